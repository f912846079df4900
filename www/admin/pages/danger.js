// The "Delete" card of a page: a button, a confirmation, the DELETE request, then back
// to the list (or the error, announced).

import { del, describe } from "../api.js";
import { h } from "../dom.js";

/**
 * The card that deletes what a page shows.
 * `button`: the button's words; `question` and `confirmLabel`: the confirmation;
 * `path`: the API path to DELETE; `done`: what is announced after; `back`: where to go.
 */
export function dangerZone(ctx, { button, question, confirmLabel, path, done, back }) {
  const remove = h("button", { class: "btn btn-danger", type: "button" }, button);
  remove.addEventListener("click", async () => {
    if (!(await ctx.confirm(question, confirmLabel))) return;
    try {
      await del(path);
      ctx.announce(done);
      ctx.navigate(back);
    } catch (e) {
      ctx.announce(describe(e), "error");
    }
  });
  return h("div", { class: "card danger-zone" }, h("h2", {}, "Delete"), remove);
}
