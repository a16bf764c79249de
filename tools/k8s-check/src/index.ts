export { OVERLAYS, RELEASED_OVERLAYS, REPO_ROOT, overlayDir, renderKustomization, type K8sObject } from './render.js';
export { checkObjects, validateOverlay, type OverlayReport } from './validate.js';
