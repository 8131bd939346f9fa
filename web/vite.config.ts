import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// `npm run dev` serves the client on :5173 and forwards the API and the socket to a
// `parley serve` on :8000 (`make run`), so the page and the API share one origin as in
// production.
const API = "http://127.0.0.1:8000";
const apiPaths = ["/auth", "/users", "/conversations", "/messages", "/attachments", "/health"];
// The composer's #tag suggestions (GET /hashtags?prefix=).
apiPaths.push("/hashtags");

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // scripts/check-size.mjs reads it to find what the first page loads.
    manifest: true,
    target: "es2020",
  },
  server: {
    proxy: {
      ...Object.fromEntries(apiPaths.map((path) => [path, API])),
      "/socket.io": { target: API, ws: true },
    },
  },
});
