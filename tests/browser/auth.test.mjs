// Sign up, log in, log out, and a session the server ended.
import { test } from "node:test";
import {
  api,
  logIn,
  openTab,
  PASSWORD,
  registerUser,
  sharedBrowser,
  uniqueName,
} from "./harness.mjs";

const browser = sharedBrowser();

test("sign up, log out back to the log-in screen, log in again", async () => {
  const { context, page, console } = await openTab(browser.current);
  const username = uniqueName("carol");
  await page.goto("/");
  // Signed out, / shows the log-in form.
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByRole("heading", { name: "Create an account" }).waitFor();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Display name").fill("Carol");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign up" }).click();
  const list = page.getByRole("navigation", { name: "Conversations" });
  await list.getByText("No conversations yet.").waitFor();
  await page.getByRole("banner").getByText("Carol").waitFor();

  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.waitForURL("**/login");

  // A wrong password is refused with the server's reason (its 401 is the one console error).
  await console.expect(/401/, async () => {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("alert").waitFor();
  });
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("banner").getByText("Carol").waitFor();
  console.assertClean();
  await context.close();
});

test("a session revoked on the server sends the tab back to log in with a message", async () => {
  const user = await registerUser("Dave");
  const { context, page, console } = await openTab(browser.current);
  await logIn(page, user);
  await page.getByRole("banner").getByText("Online").waitFor();

  // "Log out everywhere" from elsewhere (the REST token of registration) revokes the tab's too.
  await api("POST", "/auth/logout-all", { token: user.token });

  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.getByRole("status").getByText(/signed out on the server/).waitFor();
  await page.waitForURL("**/login");
  console.assertClean();
  await context.close();
});

test("a tab resuming with a revoked token goes back to log in with a message", async () => {
  const user = await registerUser("Erin");
  // The tab's stored session (sessionStorage, as a log-in leaves it) with a token revoked
  // while no page had it open: an init script puts it there before the client starts.
  await api("POST", "/auth/logout", { token: user.token });
  const session = { token: user.token, user: user.profile };
  const { context, page, console } = await openTab(browser.current);
  await page.addInitScript((stored) => {
    sessionStorage.setItem("parley.session", JSON.stringify(stored));
  }, session);

  // The client's first calls with the token are refused: their 401s are expected.
  // This step failed in 2 of 3 full PostgreSQL runs (never when run alone): on a failure, say
  // what the page asked and was answered, and what the server sent over its socket.
  const log = [];
  const t0 = Date.now();
  const at = () => `${Date.now() - t0}ms`;
  page.on("console", (m) => log.push(`${at()} ${m.type()}: ${m.text()}`));
  page.on("request", (r) => log.push(`${at()} req ${r.method()} ${r.url()}`));
  page.on("response", (r) => log.push(`${at()} res ${r.status()} ${r.url()}`));
  page.on("requestfailed", (r) => log.push(`${at()} reqfailed ${r.url()} ${r.failure()?.errorText}`));
  page.on("websocket", (ws) => {
    log.push(`${at()} ws open ${ws.url()}`);
    ws.on("framereceived", (f) => log.push(`${at()} ws< ${String(f.payload).slice(0, 200)}`));
    ws.on("close", () => log.push(`${at()} ws closed`));
  });
  try {
    await console.expect(/401/, async () => {
      await page.goto("/");
      await page.getByRole("status").getByText(/session has ended/).waitFor();
    });
  } catch (error) {
    const body = (await page.locator("body").innerText()).slice(0, 500);
    process.stdout.write(`page at ${page.url()} shows:\n${body}\n${log.join("\n")}\n`);
    throw error;
  }
  await page.getByRole("heading", { name: "Log in" }).waitFor();
  await page.waitForURL("**/login");
  console.assertClean();
  await context.close();
});
