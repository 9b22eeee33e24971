// Small DOM helpers: elements built with textContent only (never innerHTML),
// so nothing a target prints or a name holds can become markup.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const JOB_STATES = { 0: 'done', 1: 'running', 2: 'failure' };
export const OP_STATES = { 0: 'announce', 1: 'ok', 2: 'skipped', 3: 'failed', 4: 'unreachable', 5: 'changed' };

export function when(seconds) {
  if (!seconds) return '';
  return new Date(seconds * 1000).toLocaleString();
}

export function ago(seconds) {
  if (!seconds) return 'never';
  const delta = Math.max(0, Date.now() / 1000 - seconds);
  if (delta < 60) return `${Math.round(delta)} s ago`;
  if (delta < 3600) return `${Math.round(delta / 60)} min ago`;
  return `${Math.round(delta / 3600)} h ago`;
}

// Shows a failure in the footer, or clears it.
export function status(message, isError = false) {
  const footer = document.getElementById('status');
  footer.textContent = message || '';
  footer.className = isError ? 'error' : '';
}

// Runs `tick` now and every `ms` until the page changes (`signal` aborts).
export function every(ms, signal, tick) {
  let timer = null;
  const run = async () => {
    if (signal.aborted) return;
    try {
      await tick();
    } catch (error) {
      if (!signal.aborted && error.name !== 'AbortError') status(error.message, true);
    }
    if (!signal.aborted) timer = setTimeout(run, ms);
  };
  signal.addEventListener('abort', () => clearTimeout(timer));
  run();
}
