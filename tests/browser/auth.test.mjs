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

// A tab in the background runs no animation frames and wakes its timers once a second, so
// the screen's subscriptions to the state and the route (effects, run after a paint) start
// seconds after its first render. The client's calls go out before that render, and a quick
// 401 used to land in between: the session ended unseen, and the tab sat on the chat screen
// at /login, "Connecting…" for good (1 run in 40 in the foreground, where the gap is a frame).
const RESUMING_TABS = {
  foreground: () => {},
  background: () => {
    window.requestAnimationFrame = () => 0;
    window.cancelAnimationFrame = () => {};
    const setTimeoutNow = window.setTimeout;
    window.setTimeout = (callback, delay = 0, ...rest) =>
      setTimeoutNow(callback, Math.max(delay, 1000), ...rest);
  },
};

for (const [where, frames] of Object.entries(RESUMING_TABS)) {
  test(`a tab resuming with a revoked token in the ${where} goes back to log in with a message`, async () => {
    const user = await registerUser("Erin");
    // The tab's stored session (sessionStorage, as a log-in leaves it) with a token revoked
    // while no page had it open: init scripts put it there before the client starts.
    await api("POST", "/auth/logout", { token: user.token });
    const session = { token: user.token, user: user.profile };
    const { context, page, console } = await openTab(browser.current);
    await page.addInitScript(frames);
    await page.addInitScript((stored) => {
      sessionStorage.setItem("parley.session", JSON.stringify(stored));
    }, session);

    // The client's first calls with the token are refused: their 401s are expected.
    await console.expect(/401/, async () => {
      await page.goto("/");
      await page.getByRole("status").getByText(/session has ended/).waitFor();
    });
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await page.waitForURL("**/login");
    console.assertClean();
    await context.close();
  });
}
