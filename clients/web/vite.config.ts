import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The Gateway serves the built app from dist/ (Gateway:WebRoot). `npm run dev` serves it on :5173 and talks to the
// Gateway named by VITE_PLATFORM_GATEWAY_URL (default ./platform run's, which allows this origin and redirect URI).
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true },
  server: { port: 5173, strictPort: true },
});
