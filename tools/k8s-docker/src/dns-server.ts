#!/usr/bin/env node
/**
 * The cluster DNS of the k8s:docker runtime: CoreDNS's `kubernetes` plugin in a few lines. It runs in a container on
 * the cluster network (every pod's resolver is pointed at it, with the namespace's search path and ndots:5), answers
 * `<service>.<namespace>.svc.cluster.local` with the addresses of the Service's ready pods (and StatefulSet pods by
 * `<hostname>.<service>.<namespace>.svc.cluster.local`), NXDOMAIN for other cluster names, and forwards the rest to the
 * container's own resolver. The runtime pushes the records over HTTP (port 8053) whenever endpoints change; queries
 * that named a Service that does not exist are kept for the runtime to report as events, with the pod that asked.
 *
 * Why not CoreDNS itself: no registry here to pull it from. dns-packet (a well-kept encoder) does the wire format.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { createServer } from 'node:http';
import packet from 'dns-packet';

const CLUSTER = 'cluster.local';
const TTL = 5;
let records = new Map<string, string[]>();
/** name → who asked and how often, for names shaped like a Service that does not exist. */
const misses = new Map<string, { name: string; from: string; count: number }>();

const udp = createSocket('udp4');
const upstream = createSocket('udp4');
const pending = new Map<number, RemoteInfo & { id: number }>();
let nextId = 1;

upstream.on('message', (message) => {
  const id = message.readUInt16BE(0);
  const client = pending.get(id);
  if (!client) return;
  pending.delete(id);
  message.writeUInt16BE(client.id, 0);
  udp.send(message, client.port, client.address);
});

udp.on('message', (message, from) => {
  let query: packet.Packet;
  try {
    query = packet.decode(message);
  } catch {
    return;
  }
  const question = query.questions?.[0];
  if (!question) return;
  const name = question.name.toLowerCase().replace(/\.$/, '');
  if (name !== CLUSTER && !name.endsWith(`.${CLUSTER}`)) {
    // Outside the cluster: ask the resolver Docker gives this container (the host's), under an id of our own.
    const id = nextId++ & 0xffff;
    pending.set(id, { ...from, id: message.readUInt16BE(0) });
    const copy = Buffer.from(message);
    copy.writeUInt16BE(id, 0);
    upstream.send(copy, 53, '127.0.0.11');
    setTimeout(() => pending.delete(id), 5_000).unref();
    return;
  }
  const addresses = records.get(name);
  if (!addresses) {
    const labels = name.split('.');
    // <service>.<namespace>.svc.cluster.local: a Service lookup that found nothing (the search path's other tries are
    // longer or shorter, and are not reported).
    if (labels.length === 5 && labels[2] === 'svc') {
      const key = `${name} ${from.address}`;
      const miss = misses.get(key) ?? { name, from: from.address, count: 0 };
      miss.count += 1;
      misses.set(key, miss);
    }
  }
  const answers =
    addresses && question.type === 'A'
      ? addresses.map((ip) => ({ type: 'A' as const, name: question.name, ttl: TTL, class: 'IN' as const, data: ip }))
      : [];
  const response = packet.encode({
    id: query.id,
    type: 'response',
    flags: packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED) | (addresses ? 0 : 3),
    questions: query.questions,
    answers,
  });
  udp.send(response, from.port, from.address);
});

const control = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/records') {
    let body = '';
    request.on('data', (c: Buffer) => (body += c));
    request.on('end', () => {
      records = new Map(Object.entries(JSON.parse(body) as Record<string, string[]>));
      response.end('ok');
    });
    return;
  }
  if (request.url === '/misses') {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify([...misses.values()]));
    misses.clear();
    return;
  }
  response.statusCode = 404;
  response.end();
});

udp.bind(53, '0.0.0.0', () => {
  control.listen(8053, '0.0.0.0', () => console.log('cluster DNS serving on :53 (records on :8053)'));
});
process.on('SIGTERM', () => process.exit(0));
