// The web chat's service worker: the page opens with no signal (with its "no connection" notice),
// and notifications arrive while the page is closed. Version: changes with the page.
const VERSION = "$version";
const SHELL = "hocvuso-shell-" + VERSION;
const PAGES = ["/chat", "/chat/manifest.webmanifest", "/chat/icon-192.png"];

self.addEventListener("install", event => {
  event.waitUntil(caches.open(SHELL).then(cache => cache.addAll(PAGES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", event => {
  event.waitUntil(caches.keys().then(names => Promise.all(
    names.filter(n => n.startsWith("hocvuso-shell-") && n !== SHELL).map(n => caches.delete(n))
  )).then(() => self.clients.claim()));
});

// The page from the network when there is one (it may be newer), from the cache when not.
// The chat's own requests (/chat/api/...) always go to the network: an answer is never stale.
self.addEventListener("fetch", event => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !PAGES.includes(url.pathname)) return;
  event.respondWith(fetch(event.request).catch(() => caches.match(url.pathname, {cacheName: SHELL})));
});

// A reminder or the commune's news: a notification, and the message kept for the page to show
// with its buttons when it opens.
self.addEventListener("push", event => {
  let message;
  try { message = event.data.json(); } catch (e) { message = {text: event.data ? event.data.text() : ""}; }
  const kept = caches.open("hocvuso-inbox").then(box =>
    box.put("/chat/inbox/" + Date.now() + "-" + Math.random().toString(36).slice(2),
            new Response(JSON.stringify(message), {headers: {"Content-Type": "application/json"}})));
  const shown = self.registration.showNotification(message.title || "", {
    body: (message.text || "").slice(0, 240), icon: "/chat/icon-192.png", badge: "/chat/icon-192.png",
    data: {url: "/chat"}});
  event.waitUntil(Promise.all([kept, shown]).then(() => self.clients.matchAll({type: "window"}))
    .then(pages => pages.forEach(page => page.postMessage("inbox"))));
});

self.addEventListener("notificationclick", event => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true}).then(pages => {
    for (const page of pages) {
      if (new URL(page.url).pathname === "/chat" && "focus" in page) return page.focus();
    }
    return self.clients.openWindow("/chat");
  }));
});
