import "@fontsource/roboto/300.css";
import "@fontsource/roboto/400.css";
import "@fontsource/roboto/500.css";
import "@fontsource/roboto/700.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router-dom";
import { App } from "./App";
import { oidc } from "./oidc";

// Back from the sign-in provider, the code is exchanged before the app decides who is signed in.
void oidc.complete().finally(() =>
  createRoot(document.getElementById("root")!).render(
  <StrictMode>
    {/* Real paths (/files/…/show) rather than #/…: the server answers every client route with
        the page, so links can be shared and reloaded. */}
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
  ),
);
