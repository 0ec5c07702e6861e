// The draw-a-digit page served at GET /: one self-contained HTML file (inline CSS and JavaScript,
// no network requests but its own POST /api/predict).

/// The HTML of the drawing page.
enum IndexPage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>digits: draw a digit</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f4f4; color: #222; margin: 2em; }
  h1 { font-size: 1.4em; }
  .row { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
  #pad { background: #000; border: 1px solid #444; touch-action: none; cursor: crosshair; }
  #seen { width: 112px; height: 112px; image-rendering: pixelated; background: #000; border: 1px solid #444; }
  #seen:not([src]) { visibility: hidden; }
  button { margin-top: .5em; font-size: 1em; padding: .3em 1.2em; }
  #digit { font-size: 4em; font-weight: bold; line-height: 1; }
  #status { color: #a00; min-height: 1.2em; }
  .bar { display: flex; align-items: center; gap: .5em; margin: 2px 0; font-family: monospace; }
  .bar .fill { background: #4a7; height: 14px; }
  .bar .track { width: 200px; background: #ddd; }
  .bar.best .fill { background: #27a; }
</style>
</head>
<body>
<h1>Draw a digit</h1>
<div class="row">
  <div>
    <canvas id="pad" width="280" height="280"></canvas><br>
    <button id="clear" type="button">Clear</button>
  </div>
  <div>
    <div id="digit">?</div>
    <div id="confidence"></div>
    <p>What the model sees (28&times;28):</p>
    <img id="seen" alt="model input">
  </div>
  <div id="bars"></div>
</div>
<p id="status"></p>
<script>
(function () {
  var pad = document.getElementById('pad');
  var ctx = pad.getContext('2d');
  var active = null, inked = false, last = null, pending = false, again = false;
  // Bumped by Clear, so an answer still on its way for the old drawing is not shown.
  var generation = 0;

  function reset() {
    generation++;
    again = false;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
    inked = false;
    document.getElementById('digit').textContent = '?';
    document.getElementById('confidence').textContent = '';
    document.getElementById('seen').removeAttribute('src');
    document.getElementById('status').textContent = '';
    drawBars(null, -1);
  }

  function point(e) {
    var r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  }

  function stroke(from, to) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 18;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    inked = true;
  }

  // Pointer events cover mouse, pen and touch alike; one pointer draws at a time (a second finger
  // is ignored), and the canvas's touch-action: none keeps touches from scrolling the page.
  pad.addEventListener('pointerdown', function (e) {
    if (active !== null || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    active = e.pointerId;
    if (pad.setPointerCapture) pad.setPointerCapture(e.pointerId);
    last = point(e);
    stroke(last, last);
  });
  pad.addEventListener('pointermove', function (e) {
    if (e.pointerId !== active) return;
    e.preventDefault();
    // Fast strokes deliver several positions per event; draw through each of them.
    var events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    if (events.length === 0) events = [e];
    for (var i = 0; i < events.length; i++) {
      var p = point(events[i]);
      stroke(last, p);
      last = p;
    }
  });
  function end(e) {
    if (e.pointerId !== active) return;
    active = null;
    predict();
  }
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  document.getElementById('clear').addEventListener('click', reset);

  function drawBars(probabilities, best) {
    var bars = document.getElementById('bars');
    bars.innerHTML = '';
    for (var d = 0; d < 10; d++) {
      var p = probabilities ? probabilities[d] : 0;
      var row = document.createElement('div');
      row.className = 'bar' + (d === best ? ' best' : '');
      var label = document.createElement('span');
      label.textContent = d;
      var track = document.createElement('div');
      track.className = 'track';
      var fill = document.createElement('div');
      fill.className = 'fill';
      fill.style.width = (100 * p).toFixed(1) + '%';
      track.appendChild(fill);
      var value = document.createElement('span');
      value.textContent = (100 * p).toFixed(1) + '%';
      row.appendChild(label); row.appendChild(track); row.appendChild(value);
      bars.appendChild(row);
    }
  }

  function predict() {
    if (!inked) return;
    if (pending) { again = true; return; }
    pending = true;
    var asked = generation;
    pad.toBlob(function (blob) {
      fetch('/api/predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
        .then(function (res) {
          if (asked !== generation) return;
          var status = document.getElementById('status');
          if (!res.ok) { status.textContent = res.body.error || 'request failed'; return; }
          status.textContent = '';
          var b = res.body;
          document.getElementById('digit').textContent = b.digit;
          document.getElementById('confidence').textContent =
            (100 * b.probability).toFixed(1) + '%' + (b.confident ? '' : ' (not confident)');
          document.getElementById('seen').src = 'data:image/png;base64,' + b.input_png;
          drawBars(b.probabilities, b.digit);
        })
        .catch(function (err) {
          if (asked === generation) document.getElementById('status').textContent = String(err);
        })
        .then(function () {
          pending = false;
          if (again) { again = false; predict(); }
        });
    }, 'image/png');
  }

  reset();
})();
</script>
</body>
</html>
"""#
}
