export * from './content-tag.js';
export * from './docker.js';
export * from './images.js';
export * from './overlay-images.js';
export * from './release.js';
export * from './rollback.js';
