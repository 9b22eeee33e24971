// The dashboard: a login form, then pages chosen by the URL's hash
// (#/jobs, #/job/JID, #/run, #/targets, #/conditions, #/pipelines).
import { api, session } from './api.js';
import { el, status } from './dom.js';
import { jobsPage } from './pages/jobs.js';
import { jobPage } from './pages/job.js';
import { runPage } from './pages/run.js';
import { targetsPage } from './pages/targets.js';
import { conditionsPage } from './pages/conditions.js';
import { pipelinesPage } from './pages/pipelines.js';

const routes = [
  [/^#\/jobs$/, () => jobsPage],
  [/^#\/job\/([\w-]+)$/, (match) => (main, signal) => jobPage(main, signal, match[1])],
  [/^#\/run$/, () => runPage],
  [/^#\/targets$/, () => targetsPage],
  [/^#\/conditions$/, () => conditionsPage],
  [/^#\/pipelines$/, () => pipelinesPage],
];

let current = null;  // the AbortController of the page shown

function loginForm(main) {
  const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', required: true, placeholder: 'API token' });
  const message = el('p', { class: 'error', id: 'login-error' });
  const form = el('form', { id: 'login', class: 'card' },
    el('h1', { text: 'Log in to steward' }),
    el('label', { for: 'token', text: 'API token (steward token create NAME, or .steward/token)' }),
    input,
    el('button', { type: 'submit', id: 'login-submit', text: 'Log in' }),
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    session.login(input.value.trim());
    try {
      await api('/jobs?limit=1');
      if (!location.hash || location.hash === '#/login') location.hash = '#/jobs';
      else show();
    } catch (error) {
      session.logout();
      message.textContent = error.status === 401 ? 'That token is not valid.' : error.message;
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function show() {
  if (current) current.abort();
  current = new AbortController();
  status('');
  const main = document.getElementById('main');
  const loggedIn = Boolean(session.token());
  document.getElementById('nav').hidden = !loggedIn;
  document.getElementById('logout').hidden = !loggedIn;
  if (!loggedIn) return loginForm(main);
  const hash = location.hash || '#/jobs';
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', hash.startsWith(link.getAttribute('href')));
  }
  for (const [pattern, page] of routes) {
    const match = hash.match(pattern);
    if (match) return page(match)(main, current.signal);
  }
  location.hash = '#/jobs';
}

window.addEventListener('hashchange', show);
window.addEventListener('steward:unauthorized', () => {
  session.logout();
  show();
  status('The server refused the token: log in again.', true);
});
document.getElementById('logout').addEventListener('click', () => {
  session.logout();
  show();
});
show();
