// One job: its per-target states, its output live in a terminal (xterm.js,
// ANSI colours kept) from GET /jobs/JID/events, and a cancel button.
//
// Built for jobs of thousands of targets printing at once: events only
// queue work; one requestAnimationFrame callback per frame writes the
// queued output to the terminal in one call and touches only the table rows
// whose target changed. The terminal keeps SCROLLBACK lines, and a frame
// writes at most FRAME_BYTES of output (the excess is dropped with a note).
import { api, readEvents } from '../api.js';
import { el, JOB_STATES, OP_STATES, status, when } from '../dom.js';

const SCROLLBACK = 5000;
const FRAME_BYTES = 256 * 1024;
const PREFIX_COLOURS = [36, 32, 33, 35, 34, 96, 92, 93, 95, 94];

export async function jobPage(main, signal, jid) {
  const title = el('h1', {}, 'Job ', el('code', { text: jid }));
  const summary = el('div', { class: 'summary', id: 'job-summary' });
  const cancel = el('button', { id: 'cancel', type: 'button', class: 'danger', text: 'Cancel job' });
  const screen = el('div', { id: 'terminal', class: 'terminal' });
  const rows = el('tbody', { id: 'targets-body' });
  main.replaceChildren(title, summary, el('div', { class: 'actions' }, cancel), screen,
    el('h2', { text: 'Targets' }),
    el('table', { class: 'grid', id: 'job-targets' },
      el('thead', {}, el('tr', {}, ...['target', 'phase', 'status', 'rc', 'error'].map((name) => el('th', { text: name })))),
      rows));

  const terminal = new window.Terminal({
    convertEol: true, scrollback: SCROLLBACK, disableStdin: true, fontSize: 13, rows: 20,
    theme: { background: '#111418' },
  });
  const fit = new window.FitAddon.FitAddon();
  terminal.loadAddon(fit);
  terminal.open(screen);
  fit.fit();
  const refit = () => fit.fit();
  window.addEventListener('resize', refit);
  signal.addEventListener('abort', () => {
    window.removeEventListener('resize', refit);
    terminal.dispose();
  });

  let job;
  try {
    job = await api(`/jobs/${jid}`, { signal });
  } catch (error) {
    if (error.name !== 'AbortError') status(error.message, true);
    return;
  }
  const view = new JobView(job, summary, rows, terminal, cancel);
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      view.setJob(await api(`/jobs/${jid}/cancel`, { method: 'POST', signal }));
    } catch (error) {
      status(error.message, true);
      cancel.disabled = false;
    }
  });
  if (job.state !== 1) view.markEnded();
  try {
    await readEvents(`/jobs/${jid}/events`, (name, data) => view.onEvent(name, data), signal);
  } catch (error) {
    if (error.name !== 'AbortError') status(`event stream: ${error.message}`, true);
  }
}

class JobView {
  constructor(job, summary, rows, terminal, cancel) {
    this.summary = summary;
    this.terminal = terminal;
    this.cancel = cancel;
    this.rowOf = new Map();
    this.results = new Map();
    this.atLineStart = new Map();
    this.pendingOutput = [];
    this.pendingBytes = 0;
    this.droppedBytes = 0;
    this.changed = new Set();
    this.scheduled = false;
    this.many = (job.targets || []).length > 1;
    const fragment = document.createDocumentFragment();
    (job.targets || []).forEach((name, index) => {
      const cells = ['phase', 'status', 'rc', 'error'].map((key) => el('td', { class: key }));
      const row = el('tr', { 'data-target': name }, el('td', { text: name }), ...cells);
      this.rowOf.set(name, { row, cells, colour: PREFIX_COLOURS[index % PREFIX_COLOURS.length] });
      this.results.set(name, (job.return_data || {})[name] || {});
      this.changed.add(name);
      fragment.append(row);
    });
    rows.append(fragment);
    this.setJob(job);
  }

  setJob(job) {
    this.job = job;
    if (job.return_data) {
      for (const [name, result] of Object.entries(job.return_data)) {
        this.results.set(name, result);
        this.changed.add(name);
      }
    }
    if (job.state !== 1) this.markEnded();
    this.schedule();
  }

  markEnded() {
    this.cancel.hidden = true;
  }

  onEvent(name, data) {
    if (name === 'output') this.queueOutput(data.target, data.data, data.stream);
    else if (name === 'result') {
      this.results.set(data.target, { ...data.result, phase: 'finished' });
      this.changed.add(data.target);
    } else if (name === 'done') this.setJob(data);
    else if (name === 'dropped') this.queueNote('event stream dropped: this browser read too slowly');
    this.schedule();
  }

  queueOutput(target, text, stream) {
    const entry = this.rowOf.get(target);
    const result = this.results.get(target);
    if (result && !result.phase) {
      result.phase = 'running';
      this.changed.add(target);
    }
    if (this.pendingBytes + text.length > FRAME_BYTES) {
      this.droppedBytes += text.length;
      return;
    }
    const prefix = this.many && entry ? `\x1b[${entry.colour}m${target}\x1b[0m ` : '';
    const lines = text.split('\n');
    let out = '';
    let atStart = this.atLineStart.get(target) ?? true;
    lines.forEach((line, index) => {
      if (index > 0) {
        out += '\n';
        atStart = true;
      }
      if (line.length === 0) return;
      if (atStart) out += prefix;
      out += stream === 'stderr' ? `\x1b[31m${line}\x1b[0m` : line;
      atStart = false;
    });
    this.atLineStart.set(target, atStart);
    this.pendingOutput.push(out);
    this.pendingBytes += out.length;
  }

  queueNote(text) {
    this.pendingOutput.push(`\r\n\x1b[33m[${text}]\x1b[0m\r\n`);
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.scheduled = false;
    if (this.droppedBytes > 0) {
      this.queueNote(`${this.droppedBytes} bytes of output not shown (more than this page draws per frame); the job keeps all of it`);
      this.droppedBytes = 0;
    }
    if (this.pendingOutput.length > 0) {
      this.terminal.write(this.pendingOutput.join(''));
      this.pendingOutput = [];
      this.pendingBytes = 0;
    }
    for (const name of this.changed) this.renderRow(name);
    this.changed.clear();
    this.renderSummary();
  }

  renderRow(name) {
    const entry = this.rowOf.get(name);
    if (!entry) return;
    const result = this.results.get(name) || {};
    const phase = result.phase || 'pending';
    const state = OP_STATES[result.status] || '';
    const values = [phase, phase === 'finished' ? state : '', result.rtc ?? '', result.error || ''];
    entry.cells.forEach((cell, index) => {
      const text = String(values[index]);
      if (cell.textContent !== text) cell.textContent = text;
    });
    entry.row.className = phase === 'finished' ? `state-${state}` : `phase-${phase}`;
  }

  renderSummary() {
    const job = this.job;
    const total = this.rowOf.size;
    let finished = 0;
    for (const result of this.results.values()) if (result.phase === 'finished') finished += 1;
    const stateName = JOB_STATES[job.state] || String(job.state);
    this.summary.replaceChildren(
      el('span', { class: `badge ${stateName}`, id: 'job-state', text: stateName }),
      ` ${job.operate} · ${finished}/${total} finished · started ${when(job.startat)}`,
      job.finishat ? ` · ended ${when(job.finishat)}` : '',
      job.error ? el('div', { class: 'error', id: 'job-error', text: job.error }) : '');
  }
}
