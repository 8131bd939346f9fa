// Attachments: a picked image uploads with a progress bar (the upload held to see it), is sent,
// and shows as a loaded thumbnail to both people, live; a pasted image and a dropped file go
// out together; a refused send keeps its files through a reload and Retry sends them; a refused
// upload says why in words; Cancel stops an upload. The full image opens in a dialog, also
// from a thread, whose Escape closes the dialog only.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  api,
  assertAccessible,
  composer,
  confirmed,
  createConversation,
  messageItem,
  openConversation,
  person,
  png,
  registerUser,
  sharedBrowser,
  twoInConversation,
  upload,
} from "./harness.mjs";

const browser = sharedBrowser();

/** Holds this page's uploads (`POST /attachments`) until `release()`. */
async function holdUploads(page) {
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  let held = 0;
  await page.route("**/attachments", async (route) => {
    if (route.request().method() !== "POST") return route.continue();
    held += 1;
    await gate;
    // A cancelled upload's request is gone by then: nothing to continue.
    await route.continue().catch(() => undefined);
  });
  return {
    held: () => held,
    release: async () => {
      release();
      await page.unroute("**/attachments");
    },
  };
}

/** The chip of `name` in the composer's tray. */
function chip(page, name) {
  return page.getByRole("list", { name: "Files to send" }).getByRole("listitem").filter({
    hasText: name,
  });
}

/** The history's message showing the image `name`. */
function imageMessage(page, name) {
  return page
    .getByRole("log")
    .getByRole("listitem")
    .filter({ has: page.getByRole("img", { name, exact: true }) });
}

/** Waits until the <img> has really loaded (decoded, with pixels). */
async function loaded(page, image) {
  await page.waitForFunction(
    (element) => element.complete && element.naturalWidth > 0,
    await image.elementHandle(),
  );
}

test("an upload shows progress and the image; the other sees it live", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);

  const hold = await holdUploads(alice.page);
  await alice.page.locator('input[type="file"]').setInputFiles({
    name: "photo.png",
    mimeType: "image/png",
    buffer: png(320, 180),
  });
  const photo = chip(alice.page, "photo.png");
  // Pending: the chip with its progress bar and local thumbnail; Send waits for the upload.
  await photo.getByRole("progressbar", { name: "Uploading photo.png" }).waitFor();
  await loaded(alice.page, photo.locator("img"));
  const sendButton = alice.page.getByRole("button", { name: "Send", exact: true });
  assert.equal(await sendButton.isDisabled(), true, "no send while an upload runs");
  assert.equal(hold.held(), 1);
  await assertAccessible(alice.page, "the upload tray");

  await hold.release();
  await photo.getByRole("progressbar").waitFor({ state: "detached" });
  assert.equal(await sendButton.isDisabled(), false, "files alone may be sent");
  await sendButton.click();
  await photo.waitFor({ state: "detached" });

  // Bob sees it live, loaded; its box was sized from the server's width and height.
  const bobsImage = bob.page.getByRole("log").getByRole("img", { name: "photo.png" });
  await bobsImage.waitFor();
  await loaded(bob.page, bobsImage);
  const box = await bob.page.getByRole("button", { name: "Open image photo.png" }).boundingBox();
  assert.deepEqual([Math.round(box.width), Math.round(box.height)], [240, 135]);
  await assertAccessible(bob.page, "a message with an image");
  await confirmed(imageMessage(alice.page, "photo.png")).waitFor();
  await loaded(alice.page, alice.page.getByRole("log").getByRole("img", { name: "photo.png" }));

  // The message is an IMAGE carrying the file, as the server has it.
  const page = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: bob.user.token,
  });
  assert.equal(page.items.length, 1);
  const [message] = page.items;
  assert.equal(message.type, "IMAGE");
  assert.deepEqual(
    message.attachments.map(({ name, mimeType, width, height }) => [name, mimeType, width, height]),
    [["photo.png", "image/png", 320, 180]],
  );

  // The full image in a dialog; Escape closes it and the focus goes back.
  const opener = bob.page.getByRole("button", { name: "Open image photo.png" });
  await opener.click();
  const dialog = bob.page.getByRole("dialog", { name: "photo.png" });
  await loaded(bob.page, dialog.getByRole("img", { name: "photo.png" }));
  await assertAccessible(bob.page, "the image dialog");
  await bob.page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  assert.equal(await opener.evaluate((element) => element === document.activeElement), true);

  await close();
});

test("an image opened in a thread: Escape closes its dialog, not the thread", async () => {
  const bob = await registerUser("Bob");
  const alice = await person(browser.current, "Alice");
  const conversation = await createConversation(bob, [alice.user]);
  const picture = await upload(bob, "plan.png", png(320, 180));
  await api("POST", "/messages?wait=true", {
    token: bob.token,
    body: { conversationId: conversation.id, type: "IMAGE", attachments: [picture.id] },
  });
  await openConversation(alice.page, conversation);

  // The message's item (its attachments' list has an item with the image too).
  const root = imageMessage(alice.page, "plan.png").first();
  await root.hover();
  await root.getByRole("button", { name: "Reply in thread" }).click();
  const panel = alice.page.getByRole("complementary", { name: "Thread" });
  const opener = panel.getByRole("button", { name: "Open image plan.png" });
  await opener.click();
  const dialog = alice.page.getByRole("dialog", { name: "plan.png" });
  await loaded(alice.page, dialog.getByRole("img", { name: "plan.png" }));
  await alice.page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  // The thread would have closed in the same render as the dialog.
  assert.equal(await panel.isVisible(), true, "the thread is still open");
  assert.equal(await opener.evaluate((element) => element === document.activeElement), true);
  await alice.page.keyboard.press("Escape");
  await panel.waitFor({ state: "detached" });

  alice.console.assertClean();
  await alice.context.close();
});

test("a pasted image and a dropped file go out in one message, with its text", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);

  // A paste of an image, as the clipboard gives it.
  await composer(alice.page).evaluate((box, bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], "pasted.png", { type: "image/png" }));
    box.dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
    );
  }, [...png(40, 30, [200, 40, 40])]);
  await chip(alice.page, "pasted.png").waitFor();

  // A file dragged over the conversation shows the drop zone; dropped, it joins the tray.
  const history = alice.page.getByRole("log");
  const dataTransfer = await alice.page.evaluateHandle(() => {
    const data = new DataTransfer();
    data.items.add(new File(["minutes of the meeting\n"], "notes.txt", { type: "text/plain" }));
    return data;
  });
  await history.dispatchEvent("dragenter", { dataTransfer });
  const zone = alice.page.getByText("Drop files to attach them");
  await zone.waitFor();
  await history.dispatchEvent("drop", { dataTransfer });
  await zone.waitFor({ state: "hidden" });
  await chip(alice.page, "notes.txt").waitFor();

  const sendButton = alice.page.getByRole("button", { name: "Send", exact: true });
  await alice.page.getByRole("progressbar").first().waitFor({ state: "detached" });
  await composer(alice.page).fill("The photo and the notes");
  await composer(alice.page).press("Enter");
  await confirmed(messageItem(alice.page, "The photo and the notes")).waitFor();
  assert.equal(await sendButton.isDisabled(), true, "tray and box emptied");

  const received = messageItem(bob.page, "The photo and the notes");
  await loaded(bob.page, received.getByRole("img", { name: "pasted.png" }));
  // The file row downloads the file through the same authenticated fetch.
  const [download] = await Promise.all([
    bob.page.waitForEvent("download"),
    received.getByRole("button", { name: /^Download notes\.txt/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "notes.txt");
  assert.equal(await readFile(await download.path(), "utf8"), "minutes of the meeting\n");

  const page = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: bob.user.token,
  });
  assert.equal(page.items[0].type, "FILE", "an image and a text file: FILE");
  assert.deepEqual(
    page.items[0].attachments.map((attachment) => attachment.name),
    ["pasted.png", "notes.txt"],
  );

  await close();
});

test("a refused send keeps its image, also after a reload, and Retry sends it", async () => {
  const { alice, bob, conversation, close } = await twoInConversation(browser.current);
  await alice.page.locator('input[type="file"]').setInputFiles({
    name: "kept.png",
    mimeType: "image/png",
    buffer: png(60, 60, [20, 160, 60]),
  });
  await chip(alice.page, "kept.png").getByRole("progressbar").waitFor({ state: "detached" });

  // An archived conversation refuses sends (409 CONVERSATION_READ_ONLY): kept, failed.
  const path = `/conversations/${conversation.id}`;
  await api("PATCH", path, { token: alice.user.token, body: { status: "ARCHIVED" } });
  await composer(alice.page).fill("Kept for later");
  await composer(alice.page).press("Enter");
  const mine = messageItem(alice.page, "Kept for later");
  await mine.getByRole("alert").getByText(/Not sent/).waitFor();
  await loaded(alice.page, mine.getByRole("img", { name: "kept.png" }));

  // The outbox kept the files with the message: shown again after a reload.
  await alice.page.reload();
  await alice.page.getByRole("heading", { name: conversation.name }).waitFor();
  await loaded(alice.page, mine.getByRole("img", { name: "kept.png" }));

  await api("PATCH", path, { token: alice.user.token, body: { status: "ACTIVE" } });
  await mine.getByRole("button", { name: "Retry" }).click();
  await confirmed(mine).waitFor();
  const received = messageItem(bob.page, "Kept for later");
  await loaded(bob.page, received.getByRole("img", { name: "kept.png" }));
  const page = await api("GET", `/messages/conversation/${conversation.id}`, {
    token: bob.user.token,
  });
  assert.equal(page.items.length, 1);
  assert.equal(page.items[0].type, "IMAGE");
  assert.deepEqual(
    page.items[0].attachments.map((attachment) => attachment.name),
    ["kept.png"],
  );

  await close();
});

test("a refused upload says why; Cancel stops an upload", async () => {
  const alice = await person(browser.current, "Alice");
  const bob = await person(browser.current, "Bob");
  // Bob's conversation: he takes Alice's right to share files.
  const conversation = await createConversation(bob.user, [alice.user]);
  await api("PATCH", `/conversations/${conversation.id}/participants/${alice.user.id}`, {
    token: bob.user.token,
    body: { permissions: { canUploadFiles: false } },
  });
  await openConversation(alice.page, conversation);
  const input = alice.page.locator('input[type="file"]');

  await alice.console.expect(/403/, async () => {
    await input.setInputFiles({ name: "refused.png", mimeType: "image/png", buffer: png(8, 8) });
    await chip(alice.page, "refused.png")
      .getByRole("alert")
      .getByText("Not allowed: you may not share files in this conversation")
      .waitFor();
  });
  await alice.page.getByRole("button", { name: "Remove refused.png" }).click();
  await chip(alice.page, "refused.png").waitFor({ state: "detached" });

  // Too large (the server's answer made here: a real one needs MAX_FILE_SIZE of data).
  await alice.page.route("**/attachments", (route) =>
    route.fulfill({
      status: 413,
      contentType: "application/json",
      body: JSON.stringify({
        error: {
          code: "FILE_TOO_LARGE",
          message: "File too large",
          details: { maxBytes: 1048576 },
        },
      }),
    }),
  );
  await alice.console.expect(/413/, async () => {
    await input.setInputFiles({ name: "huge.png", mimeType: "image/png", buffer: png(8, 8) });
    await chip(alice.page, "huge.png").getByText("Too large: files may be up to 1.0 MB").waitFor();
  });
  await alice.page.unroute("**/attachments");

  // Cancel while it is on its way: gone from the tray, nothing left to send.
  const hold = await holdUploads(alice.page);
  await input.setInputFiles({ name: "later.png", mimeType: "image/png", buffer: png(8, 8) });
  await chip(alice.page, "later.png").getByRole("progressbar").waitFor();
  await alice.page.getByRole("button", { name: "Cancel later.png" }).click();
  await chip(alice.page, "later.png").waitFor({ state: "detached" });
  await hold.release();
  assert.equal(
    await alice.page.getByRole("button", { name: "Send", exact: true }).isDisabled(),
    true,
  );

  alice.console.assertClean();
  await alice.context.close();
  await bob.context.close();
});
