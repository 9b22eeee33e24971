// Conditions: every condition with its counters, and its latest values drawn
// as a line graph (Chart.js) that gains points as the condition produces them.
import { api } from '../api.js';
import { el, every, when } from '../dom.js';

const REFRESH_MS = 2000;
const POINTS = 200;

export function conditionsPage(main, signal) {
  const list = el('div', { id: 'conditions', class: 'cards' });
  const note = el('p', { class: 'muted' });
  main.replaceChildren(el('h1', { text: 'Conditions' }), note, list);
  const cards = new Map();
  signal.addEventListener('abort', () => {
    for (const card of cards.values()) card.chart.destroy();
  });

  every(REFRESH_MS, signal, async () => {
    const conditions = await api('/conditions', { signal });
    note.textContent = conditions.length === 0 ? 'No conditions: subscribe one with a Deputy package (gRPC) first.' : '';
    const seen = new Set();
    for (const condition of conditions) {
      const id = condition.id;
      seen.add(id);
      if (!cards.has(id)) cards.set(id, makeCard(list, condition));
      const card = cards.get(id);
      renderCounters(card, condition);
      const reply = await api(`/conditions/${encodeURIComponent(id)}/values?limit=${POINTS}`, { signal });
      updateChart(card, reply.values);
    }
    for (const [id, card] of cards) {
      if (seen.has(id)) continue;
      card.chart.destroy();
      card.node.remove();
      cards.delete(id);
    }
  });
}

function makeCard(list, condition) {
  const canvas = el('canvas', { width: 600, height: 200 });
  const counters = el('dl', { class: 'counters' });
  const node = el('section', { class: 'card condition', 'data-condition': condition.id },
    el('h2', {}, el('code', { text: condition.id })),
    el('p', { class: 'muted', text: [condition.name, condition.target].filter(Boolean).join(' on ') }),
    counters, el('div', { class: 'chart' }, canvas));
  list.append(node);
  const chart = new window.Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets: [{ label: condition.id, data: [], borderColor: '#2f81f7', pointRadius: 2, tension: 0.2 }] },
    options: { animation: false, responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } } },
  });
  return { node, counters, chart, points: 0 };
}

function renderCounters(card, condition) {
  const counters = condition.counters || {};
  const entries = [
    ['running', condition.running ? 'yes' : 'no'],
    ['values', counters.values ?? 0],
    ['runs', counters.runs ?? 0],
    ['skipped (busy)', counters.skipped_busy ?? 0],
    ['skipped (unreachable)', counters.skipped_unreachable ?? 0],
    ['failed', counters.failed ?? 0],
    ['unparsable', counters.unparsable ?? 0],
    ['out of range', counters.out_of_range ?? 0],
  ];
  card.counters.replaceChildren(...entries.flatMap(([name, value]) => [el('dt', { text: name }), el('dd', { text: String(value) })]));
}

function updateChart(card, values) {
  const numeric = values.filter((entry) => typeof entry.value === 'number' || !Number.isNaN(Number(entry.value)));
  card.chart.data.labels = numeric.map((entry) => new Date(entry.at * 1000).toLocaleTimeString());
  card.chart.data.datasets[0].data = numeric.map((entry) => Number(entry.value));
  card.chart.update('none');
  card.points = numeric.length;
  card.node.dataset.points = String(numeric.length);
  card.node.title = numeric.length ? `last value at ${when(numeric[numeric.length - 1].at)}` : 'no values yet';
}
