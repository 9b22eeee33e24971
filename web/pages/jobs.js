// Jobs: the newest jobs, refreshed every 2 s, filtered by state, operation and target.
import { api } from '../api.js';
import { el, every, JOB_STATES, when } from '../dom.js';

const REFRESH_MS = 2000;
const LISTED = 100;

export function jobsPage(main, signal) {
  const state = el('select', { id: 'filter-state' },
    el('option', { value: '', text: 'any state' }),
    ...Object.values(JOB_STATES).map((name) => el('option', { value: name, text: name })));
  const operation = el('select', { id: 'filter-operation' }, el('option', { value: '', text: 'any operation' }));
  const target = el('input', { id: 'filter-target', type: 'search', placeholder: 'target contains' });
  const body = el('tbody', { id: 'jobs-body' });
  const counter = el('span', { class: 'muted' });
  main.replaceChildren(
    el('h1', { text: 'Jobs' }),
    el('div', { class: 'filters' }, state, operation, target, counter),
    el('table', { class: 'grid', id: 'jobs' },
      el('thead', {}, el('tr', {}, ...['job', 'operation', 'state', 'progress', 'targets', 'started', 'error']
        .map((name) => el('th', { text: name })))),
      body));

  let jobs = [];
  const operations = new Set();
  const render = () => {
    const wanted = (job) => (!state.value || JOB_STATES[job.state] === state.value)
      && (!operation.value || job.operate === operation.value)
      && (!target.value || (job.targets || []).some((name) => name.includes(target.value)));
    const shown = jobs.filter(wanted);
    counter.textContent = `${shown.length} of ${jobs.length}`;
    body.replaceChildren(...shown.map((job) => {
      const progress = job.progress || { done: 0, total: (job.targets || []).length };
      const stateName = JOB_STATES[job.state] || String(job.state);
      return el('tr', { 'data-jid': job.jid },
        el('td', {}, el('a', { href: `#/job/${job.jid}`, text: job.jid })),
        el('td', { text: job.operate }),
        el('td', {}, el('span', { class: `badge ${stateName}`, text: stateName })),
        el('td', {}, el('progress', { max: progress.total || 1, value: progress.done }), ` ${progress.done}/${progress.total}`),
        el('td', { text: summarize(job.targets || []) }),
        el('td', { text: when(job.startat) }),
        el('td', { class: 'error', text: job.error || '' }));
    }));
  };
  for (const input of [state, operation, target]) {
    input.addEventListener('input', render);
    input.addEventListener('change', render);
  }

  every(REFRESH_MS, signal, async () => {
    jobs = await api(`/jobs?detail=1&limit=${LISTED}`, { signal });
    for (const job of jobs) {
      if (!operations.has(job.operate)) {
        operations.add(job.operate);
        operation.append(el('option', { value: job.operate, text: job.operate }));
      }
    }
    render();
  });
}

function summarize(names) {
  if (names.length <= 3) return names.join(', ');
  return `${names.slice(0, 3).join(', ')} +${names.length - 3}`;
}
