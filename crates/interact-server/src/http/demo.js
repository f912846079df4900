// The demo shop's own script, loaded before the Interact snippet. First the queue stub
// (README.md, "Embedding the widget"): calls made before the loader has run wait in
// `Interact.q`, and the loader carries them out in order. Then a few uses of the API: the
// shop's attributes for the agent, product buttons that open the chat about a product,
// and the widget's events in the page's "Chat activity" list.
(function (w, methods) {
  var I = (w.Interact = w.Interact || { q: [] });
  methods.forEach(function (m) {
    I[m] = I[m] || function () { I.q.push([m, [].slice.call(arguments)]); };
  });
})(window, ["open", "close", "toggle", "on", "off", "setAttributes", "setSound", "identify"]);

Interact.setAttributes({ shop: "Example Shop", basket: "2 items" });

(function () {
  var seen = [];
  function show(text) {
    var list = document.querySelector("[data-demo=activity]");
    if (!list) return seen.push(text);
    var item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }
  ["opened", "closed", "unread", "session-started", "session-ended"].forEach(function (name) {
    Interact.on(name, function (detail) {
      show(detail === undefined ? name : name + " " + JSON.stringify(detail));
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    seen.splice(0).forEach(show);
    document.querySelectorAll("[data-product]").forEach(function (button) {
      button.addEventListener("click", function () {
        Interact.setAttributes({ product: button.dataset.product });
        Interact.open();
      });
    });
  });
})();
