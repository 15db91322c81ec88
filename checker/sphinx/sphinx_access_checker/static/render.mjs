// @ts-check
/**
 * Applies the element trees the checker's Python views produce (``{t, a, c}``, see
 * access_checker/web/elements.py) to the page, as patches.
 *
 * - Text is only ever text: there is no innerHTML anywhere, and a tree cannot carry markup.
 * - Tags and attributes come from allow-lists; a link's address must be http(s), mailto or
 *   relative. Anything else is dropped, so a bug or a hostile value upstream cannot add a
 *   script, a handler or a javascript: link.
 * - A node is kept when the tree has the same tag (and the same data-key) in the same place,
 *   and only what differs changes. So re-rendering a form as the reader types keeps focus,
 *   caret, selection and scroll. What a control holds belongs to the reader once it exists:
 *   value and checked are set on a new control only. A new data-key (the draft started
 *   over) makes a new element instead.
 */

/** @typedef {{ t: string, a: Record<string, string>, c: Tree[] }} ElementTree */
/** @typedef {ElementTree | string} Tree */

const TAGS = new Set([
  "a", "button", "caption", "code", "dd", "details", "div", "dl", "dt", "fieldset", "form", "input", "label",
  "legend", "li", "p", "span", "strong", "summary", "table", "tbody", "td", "textarea", "th", "thead", "tr", "ul",
]);
const ATTRIBUTES = new Set([
  "autocomplete", "checked", "class", "for", "hidden", "href", "id", "inputmode", "max", "min", "name",
  "novalidate", "open", "rel", "role", "rows", "scope", "step", "target", "type", "value",
]);
const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:"]);
/** Attributes that mirror what the reader put in a control: theirs once the control exists. */
const OWNED = new Set(["value", "checked"]);

/** @param {string} name @param {string} value */
function allowed(name, value) {
  if (!ATTRIBUTES.has(name) && !/^(data|aria)-[a-z][a-z0-9-]*$/.test(name)) return false;
  if (name !== "href") return true;
  try {
    return SAFE_SCHEMES.has(new URL(value, document.baseURI).protocol);
  } catch {
    return false;
  }
}

/** @param {Tree} tree @returns {Node} */
function create(tree) {
  if (typeof tree === "string") return document.createTextNode(tree);
  const el = document.createElement(TAGS.has(tree.t) ? tree.t : "span");
  for (const [name, value] of Object.entries(tree.a)) if (allowed(name, value)) el.setAttribute(name, value);
  for (const child of tree.c) el.append(create(child));
  return el;
}

/** @param {Node} node @param {Tree} tree */
function matches(node, tree) {
  if (typeof tree === "string") return node.nodeType === Node.TEXT_NODE;
  return node instanceof Element && node.localName === (TAGS.has(tree.t) ? tree.t : "span")
    && (node.getAttribute("data-key") ?? "") === (tree.a["data-key"] ?? "");
}

/** @param {Element} el @param {ElementTree} tree */
function update(el, tree) {
  const control = el.localName === "input" || el.localName === "textarea";
  for (const { name } of [...el.attributes]) {
    if (!Object.hasOwn(tree.a, name) && !(control && OWNED.has(name))) el.removeAttribute(name);
  }
  for (const [name, value] of Object.entries(tree.a)) {
    if (control && OWNED.has(name)) continue;
    if (el.getAttribute(name) !== value && allowed(name, value)) el.setAttribute(name, value);
  }
  if (el.localName !== "textarea") patch(el, tree.c); // a textarea's text is its value: the reader's
}

/**
 * Make ``parent``'s children match ``trees``, changing only what differs.
 * @param {Element} parent @param {Tree[]} trees
 */
export function patch(parent, trees) {
  const nodes = [...parent.childNodes];
  trees.forEach((tree, i) => {
    const node = nodes[i];
    if (node && matches(node, tree)) {
      if (typeof tree === "string") {
        if (node.nodeValue !== tree) node.nodeValue = tree;
      } else update(/** @type {Element} */ (node), tree);
    } else if (node) parent.replaceChild(create(tree), node);
    else parent.append(create(tree));
  });
  for (const extra of nodes.slice(trees.length)) extra.remove();
}
