// What the caller may do to a member, as docs/permissions.md's table says, to show only the
// actions that can succeed. The server decides anyway; its 403 is shown when it disagrees.
import type { Conversation, Participant, Role } from "../api/types";

const RANK: Record<Role, number> = { OWNER: 4, ADMIN: 3, MODERATOR: 2, MEMBER: 1 };
const ROLES: Role[] = ["OWNER", "ADMIN", "MODERATOR", "MEMBER"];

/** Name, description, status and settings: owners and admins; in a DIRECT both people. */
export function mayEditSettings(conversation: Conversation): boolean {
  if (conversation.type === "DIRECT") return true;
  return conversation.myRole === "OWNER" || conversation.myRole === "ADMIN";
}

/** What the caller may do to `target`. Every action on another member needs a strictly
 * higher role; a DIRECT conversation has no roles, removals or bans. */
export interface MemberActions {
  /** Roles the caller may give the target (its current one left out). */
  roles: Role[];
  mute: boolean;
  unmute: boolean;
  ban: boolean;
  unban: boolean;
  remove: boolean;
}

const NONE: MemberActions = {
  roles: [],
  mute: false,
  unmute: false,
  ban: false,
  unban: false,
  remove: false,
};

export function memberActions(
  conversation: Conversation,
  target: Participant,
  me: string | undefined,
): MemberActions {
  const mine = conversation.myRole;
  if (conversation.type === "DIRECT" || mine === null || target.userId === me) return NONE;
  const outranks = RANK[mine] > RANK[target.role];
  if (!outranks || RANK[mine] < RANK.MODERATOR) return NONE;
  const sees = target.status === "ACTIVE" || target.status === "MUTED";
  const roles =
    sees && RANK[mine] >= RANK.ADMIN
      ? ROLES.filter((role) => {
          if (role === target.role) return false;
          // Only the owner makes an owner (handing over, to an ACTIVE member).
          if (mine === "OWNER") return role !== "OWNER" || target.status === "ACTIVE";
          return RANK[role] < RANK[mine];
        })
      : [];
  return {
    roles,
    mute: target.status === "ACTIVE",
    unmute: target.status === "MUTED",
    ban: sees,
    unban: target.status === "BANNED",
    remove: sees || target.status === "BANNED",
  };
}

export function roleLabel(role: Role): string {
  return role.charAt(0) + role.slice(1).toLowerCase();
}

/** Members in the order a list shows them: who sees the conversation first, then by role
 * (owner first), then by name. */
export function byStanding(a: Participant, b: Participant): number {
  const away = (member: Participant) =>
    member.status === "ACTIVE" || member.status === "MUTED" ? 0 : 1;
  return (
    away(a) - away(b) ||
    RANK[b.role] - RANK[a.role] ||
    (a.user?.displayName ?? "").localeCompare(b.user?.displayName ?? "")
  );
}
