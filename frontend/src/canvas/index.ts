// Public surface of the canvas layer (STYLE §11): the editor imports from "canvas/index" only.
export { Renderer } from "./renderer";
export type { FetchTile, FrameStats, ImagePyramid, LabelSource, LabelStyle, PaletteFallback, RendererEvents, RendererOptions, RGBA } from "./renderer";
export { Overlay } from "./overlay";
export type { CircleStyle, Painter, PolygonStyle, Ring } from "./overlay";
export { fallbackColor } from "./palette";
export { labelAt } from "./tiles";
export * from "./viewport";
