import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the UI with hot reload and passes API calls to a running server
// (`make run`, or DATOFERUM_URL), so the browser sees one origin as in production.
const server = process.env.DATOFERUM_URL ?? "http://127.0.0.1:8000";
const proxied = ["/api", "/healthz", "/readyz", "/openapi.json", "/l/"];

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: server, changeOrigin: false }])),
  },
  build: {
    outDir: "dist",
    sourcemap: false,
    // react-admin with Material UI is about 1.2 MB before compression (~350 kB gzip); the
    // charts are a separate chunk loaded with the dashboard only.
    chunkSizeWarningLimit: 1600,
  },
});
