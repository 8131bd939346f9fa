// /docs (Swagger UI) and /redoc (ReDoc) render the API in Chromium with every request going to
// this server only (air-gapped sites) and no console error (a CSP refusal is one).
import assert from "node:assert/strict";
import { test } from "node:test";
import { BASE_URL, openTab, sharedBrowser } from "./harness.mjs";

const browser = sharedBrowser();
const origin = new URL(BASE_URL).origin;

const external = (url) =>
  !url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:");

/** The page, with the requests to other hosts that left the browser (`elsewhere`) and the
 * ones the page's CSP refused before they did (`refused`). */
async function openPage(path, during = async () => {}) {
  const tab = await openTab(browser.current);
  const asked = [];
  const refused = [];
  tab.page.on("request", (request) => {
    if (external(request.url())) asked.push(request.url());
  });
  tab.page.on("requestfailed", (request) => {
    if (external(request.url()) && request.failure()?.errorText === "csp") {
      refused.push(request.url());
    }
  });
  await tab.page.goto(path);
  await during(tab.page, tab.console);
  const elsewhere = asked.filter((url) => !refused.includes(url));
  return { ...tab, elsewhere, refused };
}

test("Swagger UI lists the operations, from this server only", async () => {
  const { context, page, console, elsewhere } = await openPage("/docs");
  await page.locator(".swagger-ui .info .title", { hasText: "Parley" }).waitFor();
  await page.locator(".opblock-summary-path", { hasText: "/messages" }).first().waitFor();
  assert.ok((await page.locator(".opblock").count()) > 30);
  assert.deepEqual(elsewhere, [], "requests to another host");
  console.assertClean();
  await context.close();
});

test("ReDoc shows the reference, from this server only", async () => {
  // ReDoc's footer names its vendor's logo on cdn.redoc.ly: the page's CSP (img-src 'self')
  // refuses it before any request leaves, and ReDoc then shows the footer without it.
  const { context, console, elsewhere, refused } = await openPage("/redoc", async (page, log) => {
    await log.tolerate(/Content Security Policy/, async () => {
      await page.locator("h1", { hasText: "Parley" }).waitFor();
      await page.getByText("Send Message").first().waitFor({ state: "attached" });
    });
  });
  assert.deepEqual(elsewhere, [], "requests to another host");
  assert.ok(refused.every((url) => url.startsWith("https://cdn.redoc.ly/")), refused);
  console.assertClean();
  await context.close();
});
