// The theme's menu button (narrow screens) says whether the menu is open: the theme's own script
// opens and closes the menu by toggling the class "shift" on it (help/maintainers/accessibility.rst).
"use strict";
(() => {
  const button = document.querySelector('.wy-nav-top button[data-toggle="wy-nav-top"]');
  const menu = document.querySelector(".wy-nav-side");
  if (!button || !menu) return;
  const update = () => button.setAttribute("aria-expanded", String(menu.classList.contains("shift")));
  new MutationObserver(update).observe(menu, { attributes: true, attributeFilter: ["class"] });
  update();
})();
