// Each main screen (log-in, conversation list, conversation) at desktop and phone width, in
// the light and the dark theme: axe-core finds no serious or critical violation, and a
// screenshot of it goes to docs/screenshots/ (the README shows them).
import { mkdir } from "node:fs/promises";
import { after, before, test } from "node:test";
import {
  api,
  assertAccessible,
  createConversation,
  DESKTOP,
  launch,
  logIn,
  messageItem,
  openTab,
  PHONE,
  png,
  registerUser,
  SCREENSHOTS,
  screenshot,
  upload,
} from "./harness.mjs";

let browser;
let alice;
let bob;
let conversation;
before(async () => {
  browser = await launch();
  await mkdir(SCREENSHOTS, { recursive: true });
  // A conversation with a little history, the same for every variant and every run (fixed
  // client timestamps: the times shown are theirs).
  alice = await registerUser("Alice");
  bob = await registerUser("Bob");
  conversation = await createConversation(alice, [bob], "Design review");
  const picture = await upload(alice, "phone-layout.png", png(320, 180));
  const lines = [
    [bob, "09:12", { content: "Morning! Did the new build go out?" }],
    [alice, "09:14", { content: "Yes, it is on staging since 9:00. Notes in #release" }],
    [alice, "09:14", { content: "The phone layout", type: "IMAGE", attachments: [picture.id] }],
    [bob, "09:15", { content: "Great, I will try the phone layout after lunch." }],
  ];
  const sent = [];
  for (const [user, time, fields] of lines) {
    sent.push(
      await api("POST", "/messages?wait=true", {
        token: user.token,
        body: { conversationId: conversation.id, clientTimestamp: `2026-01-15T${time}:00Z`, ...fields },
      }),
    );
  }
  await api("POST", `/messages/${sent[2].id}/reactions`, { token: bob.token, body: { emoji: "👍" } });
});
after(async () => {
  await browser?.close();
});

const variants = [
  { size: "desktop", viewport: DESKTOP, colorScheme: "light" },
  { size: "desktop", viewport: DESKTOP, colorScheme: "dark" },
  { size: "phone", viewport: PHONE, colorScheme: "light" },
  { size: "phone", viewport: PHONE, colorScheme: "dark" },
];

for (const { size, viewport, colorScheme } of variants) {
  test(`screens at ${size} width, ${colorScheme}: accessible, and photographed`, async () => {
    const { context, page, console } = await openTab(browser, { viewport, colorScheme });
    const name = (screen) => `${screen}-${size}-${colorScheme}`;

    await page.goto("/login");
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    await assertAccessible(page, name("login"));
    await screenshot(page, name("login"));

    await logIn(page, alice);
    const list = page.getByRole("navigation", { name: "Conversations" });
    await list.getByRole("link", { name: /Design review/ }).waitFor();
    await page.getByRole("banner").getByText("Online").waitFor();
    await assertAccessible(page, name("conversations"));
    await screenshot(page, name("conversations"));

    await list.getByRole("link", { name: /Design review/ }).click();
    // Senders' names come with the members, a moment after the history.
    await messageItem(page, "Morning!").getByText("Bob", { exact: true }).waitFor();
    await messageItem(page, "after lunch").getByText("Bob", { exact: true }).waitFor();
    await page.getByText("This is the beginning of the conversation.").waitFor();
    // Bob's read position arrives with the members too: the ticks settle on Read.
    await page.getByText("Seen by Bob").waitFor();
    await page.getByRole("log").getByRole("img", { name: "phone-layout.png" }).waitFor();
    await page.waitForFunction(() =>
      [...document.querySelectorAll("[role=log] img")].every((image) => image.naturalWidth > 0),
    );
    await assertAccessible(page, name("conversation"));
    await screenshot(page, name("conversation"));

    console.assertClean();
    await context.close();
  });
}
