// Start a job: an operation, its targets and arguments, POSTed as the CLI would.
import { api } from '../api.js';
import { el, status } from '../dom.js';

const OPERATIONS = ['execute', 'ping', 'facter', 'service', 'copy', 'fetch'];

export function runPage(main, signal) {
  const operation = el('select', { id: 'run-operation' }, ...OPERATIONS.map((name) => el('option', { value: name, text: name })));
  const targets = el('input', { id: 'run-targets', required: true, placeholder: 'all, web*, host1,host2' });
  const cmd = el('input', { id: 'run-cmd', placeholder: 'uptime' });
  const extra = el('textarea', { id: 'run-args', rows: 3, placeholder: '{"timeout": 60}  (more arguments, JSON)' });
  const cmdRow = el('label', {}, 'Command ', cmd);
  const form = el('form', { id: 'run', class: 'card' },
    el('label', {}, 'Operation ', operation),
    el('label', {}, 'Targets ', targets),
    cmdRow,
    el('label', {}, 'Arguments ', extra),
    el('button', { type: 'submit', id: 'run-submit', text: 'Start job' }));
  operation.addEventListener('change', () => { cmdRow.hidden = operation.value !== 'execute'; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let body;
    try {
      body = extra.value.trim() ? JSON.parse(extra.value) : {};
    } catch (error) {
      return status(`arguments: not JSON (${error.message})`, true);
    }
    body.targets = targets.value.split(',').map((entry) => entry.trim()).filter(Boolean);
    if (operation.value === 'execute') body.cmd = cmd.value;
    try {
      const reply = await api(`/${operation.value}`, { method: 'POST', body, signal });
      location.hash = `#/job/${reply.jid}`;
    } catch (error) {
      status(error.message, true);
    }
  });
  main.replaceChildren(el('h1', { text: 'Start a job' }), form);
}
