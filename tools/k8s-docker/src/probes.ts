import { connect } from 'node:net';
import { checkHealth } from '@strata/service-kit';
import type { DockerNode } from './docker-node.js';
import { resolvePort, type Container, type HttpGetAction, type Probe } from './objects.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in the kubelet's words where it has them ("connect: connection refused"). */
  message: string;
}

/** The probe's timing with the API's defaults. */
export function probeTiming(probe: Probe) {
  return {
    initialDelayMs: (probe.initialDelaySeconds ?? 0) * 1000,
    periodMs: (probe.periodSeconds ?? 10) * 1000,
    timeoutMs: (probe.timeoutSeconds ?? 1) * 1000,
    successThreshold: probe.successThreshold ?? 1,
    failureThreshold: probe.failureThreshold ?? 3,
  };
}

/** An httpGet action (a probe's or a preStop hook's) against the pod's address, as the kubelet sends it from the node. */
export async function httpGet(
  action: HttpGetAction,
  podIp: string,
  containers: readonly Container[],
  timeoutMs: number,
): Promise<ProbeResult> {
  const port = resolvePort(action.port, containers);
  if (port === undefined) return { ok: false, message: `httpGet: port ${action.port} is not a port of the pod` };
  const url = `http://${action.host ?? podIp}:${port}${action.path ?? '/'}`;
  try {
    const response = await fetch(url, {
      headers: Object.fromEntries((action.httpHeaders ?? []).map((h) => [h.name, h.value])),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.status >= 200 && response.status < 400
      ? { ok: true, message: '' }
      : { ok: false, message: `HTTP probe failed with statuscode: ${response.status} (GET ${url})` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, message: `Get "${url}": ${cause?.code ?? cause?.message ?? (error as Error).message}` };
  }
}

/** Runs one probe of one container, from outside the container as the kubelet does (exec: inside, through the engine). */
export async function runProbe(
  probe: Probe,
  target: { podIp: string; containerId: string; containers: readonly Container[] },
  node: DockerNode,
): Promise<ProbeResult> {
  const { timeoutMs } = probeTiming(probe);
  if (probe.grpc) {
    const address = `${target.podIp}:${probe.grpc.port}`;
    try {
      const status = await checkHealth(address, probe.grpc.service ?? '', timeoutMs);
      return status === 'SERVING'
        ? { ok: true, message: '' }
        : { ok: false, message: `service ${JSON.stringify(probe.grpc.service ?? '')} of ${address} is ${status}` };
    } catch (error) {
      return { ok: false, message: `grpc probe of ${address}: ${(error as Error).message}` };
    }
  }
  if (probe.httpGet) return httpGet(probe.httpGet, target.podIp, target.containers, timeoutMs);
  if (probe.tcpSocket) {
    const port = resolvePort(probe.tcpSocket.port, target.containers);
    const host = probe.tcpSocket.host ?? target.podIp;
    return new Promise<ProbeResult>((resolve) => {
      const socket = connect({ host, port: port ?? 0, timeout: timeoutMs });
      const done = (result: ProbeResult) => {
        socket.destroy();
        resolve(result);
      };
      socket.once('connect', () => done({ ok: true, message: '' }));
      socket.once('timeout', () => done({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` }));
      socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, message: `dial tcp ${host}:${port}: ${e.code ?? e.message}` }));
    });
  }
  if (probe.exec) {
    const { exitCode, output } = await node.exec(target.containerId, probe.exec.command, timeoutMs);
    return exitCode === 0
      ? { ok: true, message: '' }
      : {
          ok: false,
          message: `exec ${JSON.stringify(probe.exec.command)}: exit ${exitCode}: ${output.trim().split('\n').slice(-1)[0] ?? ''}`,
        };
  }
  return { ok: false, message: 'probe has no action' };
}
