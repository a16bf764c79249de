export {
  ApplyRefused,
  DockerCluster,
  REPO_ROOT,
  podStatus,
  type ClusterEvent,
  type ClusterOptions,
  nodeFor,
  type NodeCpus,
  type ClusterSnapshot,
  type ServiceView,
} from './cluster.js';
export { admit } from './admission.js';
export type { Pod, ContainerStatus } from './kubelet.js';
export type { KubeObject } from './objects.js';
export { DEFAULT_IMAGE_MAP, parseImageMap, renderOverlay } from './overlay.js';
export { statusTables } from './status-table.js';
export { containerCpuReader, containerCpuSeconds } from './container-cpu.js';
export { NodeAutoscalers } from './autoscaling.js';
