// Types for the oauth4webapi module that the build copies next to signin.mjs (tsc only).
export * from "../../../../node_modules/oauth4webapi/build/index.js";
