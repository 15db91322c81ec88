// @ts-check
/**
 * The widget's own parts on the page, which exist before Python does: the status line, the
 * lasting message with the support links, the sign-in bar's buttons, and saving a file. The
 * words here are the boot's and the sign-in's; everything of the booted widget comes from
 * the Python views.
 */

/**
 * @param {HTMLElement} root the widget's root, [data-access-checker]
 */
export function chrome(root) {
  const status = /** @type {HTMLElement} */ (root.querySelector(".access-checker__status"));
  const message = /** @type {HTMLElement} */ (root.querySelector(".access-checker__message"));
  const signInButton = /** @type {HTMLElement | null} */ (root.querySelector('[data-action="sign-in"]'));
  const signInLabel = signInButton?.textContent ?? "";
  const data = (/** @type {string} */ name) => root.dataset[name] ?? "";

  return {
    /** A line in the status region (read out politely). @param {string} text */
    announce(text) { status.textContent = text; },

    /**
     * A lasting message (sign-in problems, failures) with the support links.
     * @param {string} text @param {(Node | string)[]} extra
     */
    tell(text, ...extra) {
      const support = document.createElement("a");
      support.href = new URL(data("supportPage"), new URL(data("root"), location.href)).href;
      support.textContent = "contact support";
      const helpdesk = document.createElement("a");
      helpdesk.href = data("helpdesk");
      helpdesk.textContent = "helpdesk";
      message.replaceChildren(`${text} You can still read the levels below and ask for more access by hand, or `,
        support, " (", helpdesk, `, ${data("supportEmail")}).`, ...extra);
      message.hidden = false;
    },

    /** The message is no longer true. */
    clear() { message.hidden = true; },

    /** Show the buttons that fit the state and the sign-in state. */
    sync() {
      const signedIn = root.dataset.signin === "signed-in";
      /** @param {string} selector @param {boolean} visible */
      const show = (selector, visible) => {
        const el = /** @type {HTMLElement | null} */ (root.querySelector(selector));
        if (el) el.hidden = !visible;
      };
      show('[data-action="sign-in"]', !signedIn && root.dataset.signin !== "unavailable");
      show('[data-action="sign-out"]', signedIn);
      show(".access-checker__who", signedIn);
      show(".access-checker__signout", false);
      show('[data-action="start"]', root.dataset.state === "idle");
      if (signInButton) {
        signInButton.textContent = root.dataset.signin === "expired" ? signInButton.dataset.labelAgain ?? signInLabel : signInLabel;
      }
    },
  };
}

/** Save text as a file through the browser's download. @param {string} filename @param {string} text */
export function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
