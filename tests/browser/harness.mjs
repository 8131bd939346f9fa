// What the browser tests share: the server under test, people (REST accounts and browser
// tabs), a console watch, the socket hold, axe-core and screenshots. A new test file imports
// what it needs from here; tests/web/test_browser.py runs every *.test.mjs of this folder.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { crc32, deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const BASE_URL = process.env.PARLEY_URL ?? "";
if (BASE_URL === "") throw new Error("PARLEY_URL (the server under test) is not set");

const HERE = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS =
  process.env.PARLEY_SCREENSHOTS ?? join(HERE, "..", "..", "docs", "screenshots");
export const PASSWORD = "correct horse battery";
// How long a UI state may take to appear: ample for a loaded machine, short enough that a
// stuck state fails the test quickly.
export const TIMEOUT_MS = 10_000;
// How long the socket may take to be online: a connect that fails (on a loaded machine, or
// after going offline) is retried by socket.io after a back-off of up to 5 s plus jitter.
export const CONNECT_TIMEOUT_MS = 20_000;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Debian's chromium, headless. One per test file (each file is its own process). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox"],
  });
}

/** A unique username (usernames are unique per database, and tests share one). */
export function uniqueName(name) {
  return `${name}_${randomBytes(4).toString("hex")}`;
}

/** A REST call as `token` (null: anonymous); answers the parsed body, throws on a non-2xx. */
export async function api(method, path, { token = null, body } = {}) {
  const response = await fetch(BASE_URL + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === "" ? null : JSON.parse(text);
}

/** An account made through the API: {id, username, displayName, token, profile}. */
export async function registerUser(name, displayName = name) {
  const username = uniqueName(name.toLowerCase());
  const answer = await api("POST", "/auth/register", {
    body: { username, password: PASSWORD, displayName },
  });
  const { user, accessToken } = answer;
  return { id: user.id, username, displayName, token: accessToken, profile: user };
}

/** A group conversation of `owner` with `members`, made through the API. */
export async function createConversation(owner, members, name = uniqueName("room")) {
  return api("POST", "/conversations", {
    token: owner.token,
    body: { type: "GROUP", name, participantIds: members.map((member) => member.id) },
  });
}

/**
 * A person's browser tab in a context of its own (its own sessionStorage, so its own
 * session): {context, page, console}. `console` gathers the page's errors; the test asserts
 * none were left with `person.console.assertClean()`.
 */
export async function openTab(browser, { viewport = DESKTOP, colorScheme = "light" } = {}) {
  // A fixed locale and time zone: the same screen reads the same on any machine.
  const context = await browser.newContext({
    viewport,
    colorScheme,
    baseURL: BASE_URL,
    locale: "en-US",
    timezoneId: "UTC",
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  return { context, page, console: watchConsole(page) };
}

/**
 * Logs in through the log-in form and waits for the chat screen with its socket connected:
 * a conversation made after that reaches the list live (one made between the list's first
 * load and the socket's connect would not show until a reload).
 */
export async function logIn(page, user) {
  await page.goto("/login");
  await page.getByLabel("Username").fill(user.username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("navigation", { name: "Conversations" }).waitFor();
  await page.getByRole("banner").getByText("Online").waitFor({ timeout: CONNECT_TIMEOUT_MS });
}

/** A person signed in: an API account and a tab logged in as it. */
export async function person(browser, name, options) {
  const user = await registerUser(name);
  const tab = await openTab(browser, options);
  await logIn(tab.page, user);
  return { ...tab, user };
}

/**
 * The usual cast: Alice and Bob (`bobTab`: his tab's options), each signed in in a tab of
 * their own, in a group conversation of Alice's with Bob (and `members`, accounts without a
 * tab), open in both tabs. `close()` ends the test: it asserts that neither page logged an
 * error, then closes both tabs.
 */
export async function twoInConversation(browser, { bobTab, members = [] } = {}) {
  const alice = await person(browser, "Alice");
  const bob = await person(browser, "Bob", bobTab);
  const conversation = await createConversation(alice.user, [bob.user, ...members]);
  await openConversation(alice.page, conversation);
  await openConversation(bob.page, conversation);
  return {
    alice,
    bob,
    conversation,
    async close() {
      alice.console.assertClean();
      bob.console.assertClean();
      await alice.context.close();
      await bob.context.close();
    },
  };
}

/**
 * Every console error and uncaught exception of a page. `expect(pattern, during)` lets errors
 * matching `pattern` happen while `during` runs and asserts at least one did (a deliberate
 * wrong password's 401); `tolerate(pattern, during)` lets them happen without requiring one
 * (the browser's own report of a reconnect tried while the test holds it offline).
 */
export function watchConsole(page) {
  const errors = [];
  let allowed = null;
  let allowedSeen = 0;
  const record = (text) => {
    if (allowed !== null && allowed.test(text)) allowedSeen += 1;
    else errors.push(text);
  };
  page.on("console", (message) => {
    if (message.type() === "error") record(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => record(`pageerror: ${error.stack ?? error.message}`));
  async function allowing(pattern, during) {
    allowed = pattern;
    allowedSeen = 0;
    try {
      await during();
    } finally {
      allowed = null;
    }
    return allowedSeen;
  }
  return {
    errors,
    async expect(pattern, during) {
      const seen = await allowing(pattern, during);
      assert.ok(seen > 0, `expected a console error matching ${pattern}`);
    },
    async tolerate(pattern, during) {
      await allowing(pattern, during);
    },
    assertClean() {
      assert.deepEqual(errors, [], "console errors on the page");
    },
  };
}

/** Opens `conversation` from the conversation list and waits for its history. */
export async function openConversation(page, conversation) {
  const list = page.getByRole("navigation", { name: "Conversations" });
  await list.getByRole("link", { name: conversation.name }).click();
  await page.getByRole("heading", { name: conversation.name }).waitFor();
  // The history's status line says something once the first page is in.
  await page.getByRole("log").locator(".history-status").filter({ hasText: /\S/ }).waitFor();
}

/** The composer's text box. */
export function composer(page) {
  return page.getByRole("textbox", { name: "Message", exact: true });
}

/** Types `text` in the composer and sends it with Enter. */
export async function send(page, text) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
}

/** A message's mark once the server confirmed it: its ticks' title, Sent, Delivered or Read
 * (the other person may read it at once); "Sending…" and "Not sent" do not match. */
export function confirmed(item) {
  return item.getByTitle(/^(Sent|Delivered|Read)$/);
}

/** The message history's item showing `content` (the log is the history's role). */
export function messageItem(page, content) {
  return page.getByRole("log").getByRole("listitem").filter({ hasText: content });
}

/**
 * Holds back the server's socket.io events named in `events` on this page's websocket until
 * `release()`, forwarding everything else (acks, pings, other events) as it comes. Must be
 * set up before the page connects. While not holding, every frame passes at once.
 */
export async function socketHold(page, events) {
  const held = [];
  let holding = false;
  let client = null;
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    client = ws;
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => {
      if (holding && typeof frame === "string" && events.includes(eventName(frame))) {
        held.push(frame);
      } else {
        ws.send(frame);
      }
    });
  });
  return {
    /** Waits until the server has sent `event` and the hold has kept it from the page. */
    async waitForHeld(event, timeoutMs = TIMEOUT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (!held.some((frame) => eventName(frame) === event)) {
        assert.ok(Date.now() < deadline, `the server sent no ${event} in ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const frame of held.splice(0)) client.send(frame);
    },
  };
}

/** The event of a socket.io EVENT packet on engine.io ("42" + optional ack id + JSON). */
function eventName(frame) {
  const match = /^42\d*\["([^"]+)"/.exec(frame);
  return match === null ? null : match[1];
}

const require = createRequire(import.meta.url);
let axeSource = null;

/**
 * axe-core on the page as it is: asserts no serious or critical violation. The page's CSP
 * forbids inline scripts, so axe goes in through page.evaluate (DevTools evaluation, which
 * CSP does not govern), not a script tag: the page's own policy stays as served.
 */
export async function assertAccessible(page, screen) {
  axeSource ??= await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => node.target.join(" ")),
    }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `axe-core on ${screen}`);
}

/**
 * A PNG of the page into docs/screenshots/<name>.png (fixed names: each run overwrites). Written
 * aside and renamed: `make test` runs both backends at once, and each takes the same pictures.
 */
export async function screenshot(page, name) {
  const png = await page.screenshot({ animations: "disabled", caret: "hide" });
  const path = join(SCREENSHOTS, `${name}.png`);
  const aside = `${path}.${process.pid}.tmp`;
  await writeFile(aside, png);
  await rename(aside, path);
}

/** One Chromium for the test file, launched before its tests and closed after them; call at
 * the top of a file and read `.current` in the tests. */
export function sharedBrowser() {
  const shared = { current: undefined };
  before(async () => {
    shared.current = await launch();
  });
  after(async () => {
    await shared.current?.close();
  });
  return shared;
}

/** A real PNG of `width` x `height` pixels, one colour. */
export function png(width, height, [red, green, blue] = [43, 89, 195]) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB
  // Each row: filter type 0 (none), then the pixels.
  const line = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x += 1) line.set([red, green, blue], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: height }, () => line));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(pixels)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Uploads `bytes` as `name` for `user` (`POST /attachments`): the attachment's JSON. */
export async function upload(user, name, bytes, type = "image/png") {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type }), name);
  const response = await fetch(BASE_URL + "/attachments", {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}` },
    body: form,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST /attachments: ${response.status} ${text}`);
  return JSON.parse(text);
}
