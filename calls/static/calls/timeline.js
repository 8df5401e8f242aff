// A call's page (templates/admin/calls/call/change_form.html), from a static file so that
// the Content-Security-Policy needs no inline script.
"use strict";
(function () {
  const box = document.getElementById("mv-timeline");
  if (!box) { return; }

  // A transcript's line plays its recording from there. Listened for on the box, so the
  // lines of a timeline the poll below replaced work as well.
  box.addEventListener("click", function (event) {
    const line = event.target.closest("button.mv-seek");
    if (!line) { return; }
    const player = line.closest("td").querySelector("audio.mv-player");
    player.currentTime = Number(line.dataset.start);
    player.play();
  });

  // While the call goes on, ask for its timeline every few seconds; stop once it ended.
  if (!box.dataset.liveUrl) { return; }
  let shown = box.innerHTML;
  const timer = setInterval(async function () {
    try {
      const response = await fetch(box.dataset.liveUrl, {headers: {"Accept": "application/json"}});
      if (!response.ok) { return; }
      const news = await response.json();
      if (news.html !== shown) { box.innerHTML = news.html; shown = news.html; }
      if (!news.live) { clearInterval(timer); box.dataset.live = "ended"; }
    } catch (error) { /* a missed poll is retried at the next tick */ }
  }, Number(box.dataset.pollMs));
})();
