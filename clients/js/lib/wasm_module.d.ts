// A .wasm import as bundlers for Cloudflare Workers (wrangler, esbuild's workerd rules)
// provide it: the compiled module.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
