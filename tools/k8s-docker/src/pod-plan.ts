import { cpus, totalmem } from 'node:os';
import type { ImageFacts } from './docker-node.js';
import { bytes, milliCpu, type Container, type EnvVar, type KubeObject, type PodSpec } from './objects.js';

/** A container that cannot be created as declared: the kubelet's CreateContainerConfigError, with its message. */
export class ContainerConfigError extends Error {}

/** What a pod's plan reads from the rest of its namespace. */
export interface NamespaceObjects {
  secret(name: string): KubeObject | undefined;
  configMap(name: string): KubeObject | undefined;
  /** Services with a (virtual) cluster IP, for the service-link variables the kubelet injects. */
  linkedServices(): { name: string; clusterIP: string; ports: { name?: string; port: number }[] }[];
}

/** What the downward API (`fieldRef` in a container's env) can tell a pod about itself. */
export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
  ip: string;
  hostIp: string;
  nodeName: string;
  serviceAccountName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** The kubernetes Service every pod is told about, though nothing answers there (no API server). */
const API_SERVICE = { host: '10.96.0.1', port: 443 };

/** A Secret's or ConfigMap's data as text. */
export function objectData(object: KubeObject): Record<string, string> {
  if (object.kind === 'Secret') {
    const data = Object.fromEntries(
      Object.entries((object.data ?? {}) as Record<string, string>).map(([k, v]) => [
        k,
        Buffer.from(v.replace(/\s+/g, ''), 'base64').toString('utf8'),
      ]),
    );
    return { ...data, ...((object.stringData ?? {}) as Record<string, string>) };
  }
  return { ...((object.data ?? {}) as Record<string, string>) };
}

const linkName = (service: string) => service.toUpperCase().replace(/-/g, '_');

/** The variables of the kubelet's service links: `<SVC>_SERVICE_HOST`, `<SVC>_PORT`, … for each Service with a cluster IP. */
function serviceLinkEnv(objects: NamespaceObjects, enabled: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  const add = (name: string, host: string, ports: { name?: string; port: number }[]) => {
    const n = linkName(name);
    const first = ports[0];
    if (!first) return;
    env[`${n}_SERVICE_HOST`] = host;
    env[`${n}_SERVICE_PORT`] = String(first.port);
    env[`${n}_PORT`] = `tcp://${host}:${first.port}`;
    for (const p of ports) {
      if (p.name) env[`${n}_SERVICE_PORT_${linkName(p.name)}`] = String(p.port);
      const prefix = `${n}_PORT_${p.port}_TCP`;
      Object.assign(env, {
        [prefix]: `tcp://${host}:${p.port}`,
        [`${prefix}_PROTO`]: 'tcp',
        [`${prefix}_PORT`]: String(p.port),
        [`${prefix}_ADDR`]: host,
      });
    }
  };
  add('kubernetes', API_SERVICE.host, [{ name: 'https', port: API_SERVICE.port }]);
  if (enabled) for (const s of objects.linkedServices()) add(s.name, s.clusterIP, s.ports);
  return env;
}

/** `$(VAR)` references, as the API expands them in env values, command and args (`$$` escapes; unknown stay as written). */
export function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
    whole === '$$' ? '$' : name !== undefined && name in env ? env[name]! : whole,
  );
}

function fieldValue(path: string, pod: PodIdentity): string {
  const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (label) return (label[1] === 'labels' ? pod.labels : pod.annotations)[label[2]!] ?? '';
  const values: Record<string, string> = {
    'metadata.name': pod.name,
    'metadata.namespace': pod.namespace,
    'metadata.uid': pod.uid,
    'spec.nodeName': pod.nodeName,
    'spec.serviceAccountName': pod.serviceAccountName,
    'status.podIP': pod.ip,
    'status.podIPs': pod.ip,
    'status.hostIP': pod.hostIp,
    'status.hostIPs': pod.hostIp,
  };
  if (!(path in values)) throw new ContainerConfigError(`unsupported fieldRef fieldPath ${JSON.stringify(path)}`);
  return values[path]!;
}

function resourceValue(ref: NonNullable<EnvVar['valueFrom']>['resourceFieldRef'] & object, container: Container): string {
  const [kind, resource] = ref.resource.split('.') as ['limits' | 'requests', 'cpu' | 'memory'];
  const declared = container.resources?.[kind]?.[resource] ?? container.resources?.limits?.[resource];
  if (resource === 'cpu') {
    const milli = milliCpu(declared) ?? cpus().length * 1000;
    const divisor = milliCpu(ref.divisor ?? '1')!;
    return String(Math.ceil(milli / divisor));
  }
  const value = bytes(declared) ?? totalmem();
  return String(Math.ceil(value / bytes(ref.divisor ?? '1')!));
}

/** The environment of one container, in the kubelet's order: envFrom, then env, then service links where not set. */
export function containerEnv(container: Container, spec: PodSpec, pod: PodIdentity, objects: NamespaceObjects): Record<string, string> {
  const env: Record<string, string> = {};
  const links = serviceLinkEnv(objects, spec.enableServiceLinks !== false);
  const source = (kind: 'Secret' | 'ConfigMap', name: string, optional: boolean | undefined) => {
    const object = kind === 'Secret' ? objects.secret(name) : objects.configMap(name);
    if (!object && !optional) throw new ContainerConfigError(`${kind.toLowerCase()} "${name}" not found`);
    return object ? objectData(object) : undefined;
  };
  for (const from of container.envFrom ?? []) {
    const data = from.secretRef
      ? source('Secret', from.secretRef.name, from.secretRef.optional)
      : source('ConfigMap', from.configMapRef!.name, from.configMapRef!.optional);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) {
      env[variable.name] = expand(variable.value ?? '', { ...links, ...env });
      continue;
    }
    const keyRef = from.secretKeyRef ?? from.configMapKeyRef;
    if (keyRef) {
      const kind = from.secretKeyRef ? 'Secret' : 'ConfigMap';
      const data = source(kind, keyRef.name, keyRef.optional);
      if (data && !(keyRef.key in data)) {
        if (keyRef.optional) continue;
        throw new ContainerConfigError(`couldn't find key ${keyRef.key} in ${kind} ${pod.namespace}/${keyRef.name}`);
      }
      if (data) env[variable.name] = data[keyRef.key]!;
    } else if (from.fieldRef) env[variable.name] = fieldValue(from.fieldRef.fieldPath, pod);
    else if (from.resourceFieldRef) env[variable.name] = resourceValue(from.resourceFieldRef, container);
  }
  for (const [k, v] of Object.entries(links)) if (!(k in env)) env[k] = v;
  return env;
}

/** The user a container runs as, checked against `runAsNonRoot` as the kubelet checks it (against the image's USER). */
export function containerUser(container: Container, spec: PodSpec, image: ImageFacts, pod: string): string | undefined {
  const uid = container.securityContext?.runAsUser ?? spec.securityContext?.runAsUser;
  const gid = container.securityContext?.runAsGroup ?? spec.securityContext?.runAsGroup;
  const nonRoot = container.securityContext?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot;
  const where = `(pod: "${pod}", container: ${container.name})`;
  if (nonRoot) {
    if (uid === 0) throw new ContainerConfigError(`container's runAsUser breaks non-root policy ${where}`);
    if (uid === undefined) {
      const user = image.user.split(':')[0] ?? '';
      if (user === '' || user === 'root' || user === '0')
        throw new ContainerConfigError(`container has runAsNonRoot and image will run as root ${where}`);
      if (!/^\d+$/.test(user))
        throw new ContainerConfigError(
          `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${where}`,
        );
    }
  }
  if (uid === undefined) return gid === undefined ? undefined : `${image.user.split(':')[0] || '0'}:${gid}`;
  return gid === undefined ? String(uid) : `${uid}:${gid}`;
}

/** cgroup settings from requests and limits, as the kubelet derives them (a limit without a request is the request). */
export function containerResources(container: Container): { cpuQuotaMilli?: number; cpuShares?: number; memoryBytes?: number } {
  const limitCpu = milliCpu(container.resources?.limits?.cpu);
  const requestCpu = milliCpu(container.resources?.requests?.cpu) ?? limitCpu;
  return {
    cpuQuotaMilli: limitCpu,
    cpuShares: requestCpu === undefined ? 2 : Math.max(2, Math.floor((requestCpu * 1024) / 1000)),
    memoryBytes: bytes(container.resources?.limits?.memory),
  };
}
