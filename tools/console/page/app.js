// The live view of Strata: layers, services and replicas with their rates, latency, errors and CPU, refreshed every
// second from /api/state (which the console fills from the replicas' own /metrics and the supervisor), and the
// waterfall of a recent trace. Preact + htm (no build step) and uPlot for the charts.
import { html, render, useEffect, useRef, useState } from '/vendor/htm-preact.js';
import uPlot from '/vendor/uplot.js';

const LAYERS = ['edge', 'composite', 'leaf', 'data'];
const STATE_POLL_MS = 1000;
const TRACE_POLL_MS = 2000;
const COLORS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4d7c0f', '#be185d'];

const num = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const ms = (v) => (v === null || v === undefined ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const pct = (v) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 0)} %`);

function usePoll(url, intervalMs, initial) {
  const [data, setData] = useState(initial);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    let stopped = false;
    let timer;
    const tick = async () => {
      try {
        const response = await fetch(url, { cache: 'no-store' });
        if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
        const body = await response.json();
        if (!stopped) {
          setData(body);
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError(String(e.message ?? e));
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [url, intervalMs]);
  return [data, error];
}

/** Requests/s (left axis) and p99 latency (right axis) of one service over the last minutes. */
function ServiceChart({ history }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const opts = {
      width: 300,
      height: 110,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: true },
        rate: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] },
        ms: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] },
      },
      axes: [
        { size: 22, font: '10px sans-serif', ticks: { size: 3 } },
        { scale: 'rate', size: 34, font: '10px sans-serif', label: 'req/s', labelSize: 12, labelFont: '10px sans-serif' },
        {
          scale: 'ms',
          side: 1,
          size: 34,
          font: '10px sans-serif',
          label: 'p99 ms',
          labelSize: 12,
          labelFont: '10px sans-serif',
          grid: { show: false },
        },
      ],
      series: [
        {},
        { label: 'req/s', scale: 'rate', stroke: '#2563eb', width: 1.5, fill: 'rgba(37,99,235,0.08)' },
        { label: 'p99 ms', scale: 'ms', stroke: '#dc2626', width: 1 },
      ],
    };
    plot.current = new uPlot(opts, [[], [], []], box.current);
    return () => plot.current.destroy();
  }, []);
  useEffect(() => {
    if (!plot.current) return;
    plot.current.setData([history.map((p) => p.at / 1000), history.map((p) => p.rate), history.map((p) => p.p99Ms)]);
  }, [history]);
  return html`<div class="chart" ref=${box}></div>`;
}

function ReplicaRow({ replica, serviceRate }) {
  const s = replica.stats;
  // Its share of the service's calls over the window, and the weight its clients' weighted_round_robin gives it
  // (QPS ÷ the utilization it reports; the edge reports none).
  const share = s && serviceRate > 0 ? s.rate / serviceRate : undefined;
  return html`<tr
    data-replica=${replica.id}
    data-state=${replica.state}
    data-pid=${replica.pid ?? ''}
    data-restarts=${replica.restarts}
    data-revision=${replica.revision ?? ''}
    data-share=${share === undefined ? '' : share.toFixed(3)}
    data-weight=${s?.balancer ? s.balancer.weight.toFixed(1) : ''}
  >
    <td class="id" title=${replica.address}>${replica.id}</td>
    <td><span class=${`pill ${replica.state}`}>${replica.state}</span></td>
    <td class="rev" title="the build it runs">${replica.revision && replica.revision !== '-' ? replica.revision : '–'}</td>
    <td class="n">${num(s?.rate, 1)}</td>
    <td class="n">${share === undefined ? '–' : `${(share * 100).toFixed(0)} %`}</td>
    <td class="n" title=${s?.balancer ? `reports ${(s.balancer.utilization * 100).toFixed(0)} % utilization` : 'reports no load'}>
      ${s?.balancer ? num(s.balancer.weight, 0) : '–'}
    </td>
    <td class="n">${ms(s?.p50Ms)}</td>
    <td class="n">${ms(s?.p99Ms)}</td>
    <td class="n">${pct(s?.errorRatio)}</td>
    <td class="n">${s ? `${(s.cpuCores * 100).toFixed(0)} %` : '–'}</td>
    <td class="n">${replica.restarts}</td>
  </tr>`;
}

/** What the service's HorizontalPodAutoscaler sees and last did (kubectl get hpa / describe hpa). */
function Autoscaler({ hpa }) {
  const now = hpa.currentUtilization === undefined ? '<unknown>' : `${hpa.currentUtilization} %`;
  const last = hpa.lastScale ?? hpa.lastSync;
  return html`<p
    class="hpa"
    data-hpa=${hpa.name}
    data-utilization=${hpa.currentUtilization ?? ''}
    data-target=${hpa.targetUtilization}
    data-desired=${hpa.desiredReplicas}
    data-max=${hpa.maxReplicas}
  >
    <span title="CPU in percent of the pods' request, against the HPA's target">HPA cpu <b>${now}</b> / ${hpa.targetUtilization} %</span>
    <span>desired <b>${hpa.desiredReplicas}</b> · current ${hpa.currentReplicas} · min ${hpa.minReplicas} · max ${hpa.maxReplicas}</span>
    ${last && html`<span class="decision" data-reason=${last.reason}><time>${last.at.slice(11, 19)}</time> ${hpa.lastScale ? 'scaled' : last.reason}: ${last.message}</span>`}
  </p>`;
}

function ServiceCard({ service, replicas }) {
  const s = service.stats;
  const converged = service.ready === service.desired && service.current === service.desired;
  return html`<article
    class=${`service ${converged ? '' : 'converging'}`}
    data-service=${service.name}
    data-desired=${service.desired}
    data-ready=${service.ready}
    data-revision=${service.revision ?? ''}
  >
    <h3>
      <span class="name">${service.name}</span>
      <span class="counts" title="ready / desired (current)"
        >${service.ready}/${service.desired} ready${service.current !== service.desired ? ` · ${service.current} current` : ''}</span
      >
    </h3>
    ${service.rollout ? html`<p class="rollout" data-rollout=${service.name}>${service.rollout}</p>` : ''}
    ${service.autoscaler ? html`<${Autoscaler} hpa=${service.autoscaler} />` : ''}
    ${
      service.layer === 'data'
        ? html`<p class="muted">no metrics of its own; orders' queries show in the traces</p>`
        : html`<div class="stats">
              <span><b>${num(s.rate, 1)}</b> req/s</span><span>p50 <b>${ms(s.p50Ms)}</b> ms</span><span>p99 <b>${ms(s.p99Ms)}</b> ms</span>
              <span>errors <b>${pct(s.errorRatio)}</b></span
              ><span>CPU <b>${(s.cpuCores * 100).toFixed(0)} %</b></span>
            </div>
            <${ServiceChart} history=${service.history} />`
    }
    <table class="replicas">
      <thead>
        <tr>
          <th>replica</th>
          <th>state</th>
          <th title="the build it runs: npm start -- --watch rolls out a revision per saved change">revision</th>
          <th>req/s</th>
          <th title="its share of the service's calls over the window">share</th>
          <th title="the weight its clients' weighted_round_robin gives it: calls per second over the utilization it reports">weight</th>
          <th>p50</th>
          <th>p99</th>
          <th>err</th>
          <th>CPU</th>
          <th>restarts</th>
        </tr>
      </thead>
      <tbody>
        ${replicas.map((r) => html`<${ReplicaRow} key=${r.id} replica=${r} serviceRate=${s?.rate} />`)}
      </tbody>
    </table>
  </article>`;
}

function Waterfall({ traceId }) {
  const [spans, setSpans] = useState(undefined);
  useEffect(() => {
    if (!traceId) return;
    let stopped = false;
    const load = () =>
      fetch(`/api/traces/${traceId}`)
        .then((r) => (r.ok ? r.json() : []))
        .then(
          (body) => !stopped && setSpans(body),
          () => undefined,
        );
    load();
    const timer = setInterval(load, TRACE_POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [traceId]);
  if (!traceId) return html`<p class="muted">no trace yet: send a request to the gateway</p>`;
  if (!spans || spans.length === 0) return html`<p class="muted">loading trace …</p>`;
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const total = Math.max(end - start, 0.001);
  // Parents before children, siblings by start time: the order of a call tree.
  const children = new Map();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const parent = ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const rows = [];
  const walk = (parent, depth) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      rows.push({ span: s, depth });
      walk(s.spanId, depth + 1);
    }
  };
  walk(undefined, 0);
  const services = [...new Set(spans.map((s) => s.service))];
  const color = (service) => COLORS[services.indexOf(service) % COLORS.length];
  return html`<div class="waterfall" data-trace=${traceId}>
    <div class="axis"><span>0 ms</span><span>${total.toFixed(1)} ms</span></div>
    ${rows.map(
      ({ span: s, depth }) =>
        html`<div
          class=${`span ${s.error ? 'error' : ''}`}
          data-span-service=${s.service}
          title=${Object.entries(s.attributes)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n')}
        >
          <div class="label" style=${`padding-left:${depth * 12}px`}>
            <b style=${`color:${color(s.service)}`}>${s.service}</b> ${s.name}
          </div>
          <div class="track">
            <div
              class="bar"
              style=${`left:${((s.startMs - start) / total) * 100}%;width:${Math.max((s.durationMs / total) * 100, 0.4)}%;background:${color(s.service)}`}
            ></div>
          </div>
          <div class="dur">${s.durationMs.toFixed(2)} ms</div>
        </div>`,
    )}
  </div>`;
}

function Traces() {
  const [traces] = usePoll('/api/traces', TRACE_POLL_MS, []);
  const [selected, setSelected] = useState(undefined);
  const shown = selected ?? (traces.find((t) => t.name.startsWith('POST /api/orders')) ?? traces[0])?.traceId;
  return html`<section class="traces">
    <h2>Recent traces <small>(click one; the newest POST /api/orders is shown by default)</small></h2>
    <div class="trace-grid">
      <ul class="trace-list">
        ${traces
          .slice(0, 25)
          .map(
            (t) =>
              html`<li
                key=${t.traceId}
                class=${t.traceId === shown ? 'selected' : ''}
                onClick=${() => setSelected(t.traceId)}
                data-trace-name=${t.name}
              >
                <span class=${t.error ? 'err' : ''}>${t.name}</span
                ><span class="muted">${t.durationMs.toFixed(1)} ms · ${t.spans} spans · ${t.services.length} services</span>
              </li>`,
          )}
      </ul>
      <${Waterfall} traceId=${shown} />
    </div>
  </section>`;
}

function App() {
  const [state, error] = usePoll('/api/state', STATE_POLL_MS, undefined);
  if (!state) return html`<p class="loading">${error ? `cannot reach the console: ${error}` : 'connecting …'}</p>`;
  const replicasOf = (name) => state.replicas.filter((r) => r.service === name);
  return html`<header>
      <h1>Strata <span>live</span></h1>
      <p>
        ${state.title} · updated
        <time data-at=${state.at}>${new Date(state.at).toLocaleTimeString()}</time>${error ? html` · <b class="err">${error}</b>` : ''}
      </p>
    </header>
    ${state.notes.length > 0 && html`<section class="notes">${state.notes.map((n) => html`<p>${n}</p>`)}</section>`}
    <section class="layers">
      ${LAYERS.map(
        (layer) =>
          html`<div class="layer" data-layer=${layer}>
            <h2>${layer}</h2>
            ${state.services.filter((s) => s.layer === layer).map((s) => html`<${ServiceCard} key=${s.name} service=${s} replicas=${replicasOf(s.name)} />`)}
          </div>`,
      )}
    </section>
    <section class="events">
      <h2>Control loop</h2>
      <ol>
        ${state.events
          .slice(-12)
          .reverse()
          .map((e) => html`<li><time>${e.at.slice(11, 19)}</time> <b>${e.service}</b> ${e.message}</li>`)}
      </ol>
    </section>
    <${Traces} />`;
}

render(html`<${App} />`, document.getElementById('app'));
