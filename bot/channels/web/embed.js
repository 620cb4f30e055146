/* The digital-skills assistant on another website: a round button that opens the chat in a panel.
   Served as /chat/embed.js by bot/channels/web/embed.py, which fills in the strings below.
   Include it with: <script src="https://HOST/chat/embed.js" defer></script>
   No cookies, nothing from a CDN, and no <style> element or style markup: every style is set
   through the element's style object (CSSOM), which a Content-Security-Policy allows, inside a
   shadow root, so neither the site's policy nor its CSS changes it. */
(function () {
  "use strict";
  var S = $strings;
  var me = document.currentScript;
  if (!me || !me.src || document.querySelector("[data-hocvuso-chat]")) return;   // included twice
  var chatUrl = new URL("/chat", me.src).href;           // the chat of the server that sent this script
  var phone = window.matchMedia("(max-width: 480px)");
  var TOP = "2147483647";
  var FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  function style(element, properties) {
    for (var name in properties) element.style.setProperty(name, properties[name], "important");
    return element;
  }

  function make(tag, attributes, properties) {
    var element = document.createElement(tag);
    for (var name in attributes) element.setAttribute(name, attributes[name]);
    return style(element, properties || {});
  }

  function mount() {
    var host = make("div", {"data-hocvuso-chat": ""}, {"display": "block", "position": "static"});
    var root = host.attachShadow ? host.attachShadow({mode: "open"}) : host;

    // 56 px: a thumb's target, bottom right where chat buttons usually are.
    var launcher = make("button", {"type": "button", "aria-label": S.open, "title": S.open,
                                   "aria-haspopup": "dialog", "aria-expanded": "false",
                                   "aria-controls": "hocvuso-chat-panel"},
                        {"position": "fixed", "right": "16px", "bottom": "16px", "z-index": TOP,
                         "width": "56px", "height": "56px", "margin": "0", "padding": "0",
                         "border": "0", "border-radius": "50%", "background": "#c62828", "color": "#fff",
                         "font": "26px/1 " + FONT, "cursor": "pointer",
                         "box-shadow": "0 2px 8px rgba(0,0,0,.35)", "display": "flex",
                         "align-items": "center", "justify-content": "center"});
    var icon = make("span", {"aria-hidden": "true"});
    icon.textContent = "\uD83D\uDCAC";
    launcher.appendChild(icon);

    var panel = make("div", {"id": "hocvuso-chat-panel", "role": "dialog", "aria-label": S.title},
                     {"position": "fixed", "z-index": TOP, "display": "none", "flex-direction": "column",
                      "background": "#fff", "box-shadow": "0 0 16px rgba(0,0,0,.3)", "overflow": "hidden"});
    var bar = make("div", {}, {"display": "flex", "align-items": "center", "min-height": "48px",
                               "background": "#37474f", "color": "#fff", "padding": "0 0 0 14px",
                               "font": "600 16px/1.3 " + FONT, "flex": "none"});
    var title = make("span", {}, {"flex": "1", "overflow": "hidden", "text-overflow": "ellipsis",
                                  "white-space": "nowrap"});
    title.textContent = S.title;
    var close = make("button", {"type": "button", "aria-label": S.close_label, "title": S.close_label},
                     {"min-width": "48px", "min-height": "48px", "margin": "0", "padding": "0 14px",
                      "border": "0", "background": "transparent", "color": "#fff", "cursor": "pointer",
                      "font": "600 16px/1 " + FONT});
    close.textContent = "\u2715 " + S.close;
    bar.appendChild(title);
    bar.appendChild(close);
    panel.appendChild(bar);
    var frame = null;        // made on the first tap: no request reaches the chat before that

    function layout() {
      var side = phone.matches
        ? {"top": "0", "right": "0", "bottom": "0", "left": "0", "width": "100%", "height": "100%",
           "border-radius": "0"}
        : {"top": "0", "right": "0", "bottom": "0", "left": "auto", "width": "420px", "height": "100%",
           "border-radius": "0"};
      style(panel, side);
    }

    function open() {
      if (!frame) {
        frame = make("iframe", {"src": chatUrl, "title": S.title},
                     {"flex": "1", "width": "100%", "border": "0", "display": "block", "background": "#eef2f5"});
        panel.appendChild(frame);
      }
      layout();
      style(panel, {"display": "flex"});
      style(launcher, {"display": "none"});
      launcher.setAttribute("aria-expanded", "true");
      close.focus();
    }

    function shut() {
      style(panel, {"display": "none"});
      style(launcher, {"display": "flex"});
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }

    launcher.addEventListener("click", open);
    close.addEventListener("click", shut);
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && panel.style.getPropertyValue("display") === "flex") shut();
    });
    if (phone.addEventListener) phone.addEventListener("change", layout); else phone.addListener(layout);
    root.appendChild(launcher);
    root.appendChild(panel);
    document.body.appendChild(host);
  }

  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
