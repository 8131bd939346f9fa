// What the screens ask for. Components call these and read the store; only the modules of
// this folder talk to the API and the socket.
export { logIn, logOut, resumeSession, signUp } from "./auth";
export { quietly } from "./connection";
export { conversationTitle } from "./conversations";
export { closeConversation, loadOlder, openConversation } from "./history";
export { discard, retry, sendMessage } from "./sending";
export {
  composing,
  deleteMessage,
  editMessage,
  loadThread,
  loadWatermarks,
  messageHistory,
  readWhenLookedAt,
  sendThreadReply,
  stopTyping,
  toggleReaction,
} from "./messageActions";
export {
  acquireAttachment,
  addFiles,
  cachedAttachmentUrl,
  formatSize,
  isImage,
  pendingUploads,
  readyAttachments,
  releaseAttachment,
  removeUpload,
  saveAttachment,
  subscribeUploads,
  takeSent,
  trayKey,
  type PendingUpload,
} from "./uploads";
