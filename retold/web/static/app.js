// retold web page: collects two articles, calls POST /compare?format=html and shows the report in a
// sandboxed iframe. Everything that comes from a user or from the API (file names, error messages)
// is put on the page with textContent / createElement, never as markup.
'use strict';

(function () {
  var SIDES = ['a', 'b'];
  var files = {a: null, b: null};
  var maxBodyBytes = null;

  function $(id) { return document.getElementById(id); }

  function formatBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KB';
    return (n / (1024 * 1024)).toFixed(1) + ' MB';
  }

  function setStatus(text) { $('status').textContent = text; }

  function clearError() {
    var box = $('error');
    box.hidden = true;
    box.replaceChildren();
  }

  function showError(title, items) {
    var box = $('error');
    box.replaceChildren();
    var head = document.createElement('strong');
    head.textContent = title;
    box.appendChild(head);
    if (items && items.length) {
      var list = document.createElement('ul');
      items.forEach(function (item) {
        var li = document.createElement('li');
        li.textContent = item;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function setFile(side, file) {
    files[side] = file;
    var text = $('text-' + side);
    var chip = $('chip-' + side);
    if (file) {
      $('file-name-' + side).textContent = file.name + ' (' + formatBytes(file.size) + ')';
      chip.hidden = false;
      text.value = '';
      text.disabled = true;
      text.placeholder = 'The file ' + file.name + ' will be compared. Remove it to paste text instead.';
    } else {
      chip.hidden = true;
      $('file-name-' + side).textContent = '';
      $('file-' + side).value = '';
      text.disabled = false;
      text.placeholder = 'Paste article ' + side.toUpperCase() +
        ' here (plain text), or drop a .txt, .md, .html or .json file';
    }
  }

  function wire(side) {
    var text = $('text-' + side);
    var section = text.closest('.input');
    $('file-' + side).addEventListener('change', function (ev) {
      var chosen = ev.target.files && ev.target.files[0];
      if (chosen) setFile(side, chosen);
    });
    $('clear-' + side).addEventListener('click', function () { setFile(side, null); text.focus(); });
    ['dragenter', 'dragover'].forEach(function (type) {
      section.addEventListener(type, function (ev) {
        ev.preventDefault();
        text.classList.add('dragging');
      });
    });
    ['dragleave', 'dragend'].forEach(function (type) {
      section.addEventListener(type, function () { text.classList.remove('dragging'); });
    });
    section.addEventListener('drop', function (ev) {
      ev.preventDefault();
      text.classList.remove('dragging');
      var dropped = ev.dataTransfer && ev.dataTransfer.files && ev.dataTransfer.files[0];
      if (dropped) {
        setFile(side, dropped);
      } else if (ev.dataTransfer) {
        var plain = ev.dataTransfer.getData('text/plain');
        if (plain && !files[side]) text.value = plain;
      }
    });
  }

  function buildRequest() {
    var problems = [];
    var size = 0;
    SIDES.forEach(function (side) {
      var label = 'Article ' + side.toUpperCase();
      if (files[side]) {
        if (files[side].size === 0) problems.push(label + ': the file ' + files[side].name + ' is empty');
        size += files[side].size;
      } else if (!$('text-' + side).value.trim()) {
        problems.push(label + ': paste the text or drop a file');
      } else {
        size += $('text-' + side).value.length;
      }
    });
    if (maxBodyBytes && size > maxBodyBytes) {
      problems.push('The two articles are ' + formatBytes(size) + '; the server accepts at most ' +
        formatBytes(maxBodyBytes) + ' per request');
    }
    if (problems.length) return {problems: problems};
    if (files.a || files.b) {
      var form = new FormData();
      SIDES.forEach(function (side) {
        if (files[side]) {
          form.append(side, files[side], files[side].name);
        } else {
          form.append(side, new Blob([$('text-' + side).value], {type: 'text/plain'}), side + '.txt');
        }
      });
      return {init: {method: 'POST', body: form}};
    }
    var payload = {a: {text: $('text-a').value, name: 'A'}, b: {text: $('text-b').value, name: 'B'}};
    return {init: {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(payload)}};
  }

  function errorItems(detail) {
    if (typeof detail === 'string') return [detail];
    if (Array.isArray(detail)) {
      return detail.map(function (d) {
        var where = Array.isArray(d.loc) ? d.loc.filter(function (p) { return p !== 'body'; }).join('.') : '';
        return (where ? where + ': ' : '') + String(d.msg);
      });
    }
    return [];
  }

  async function compare(ev) {
    ev.preventDefault();
    clearError();
    var request = buildRequest();
    if (request.problems) {
      showError('Two articles are needed.', request.problems);
      return;
    }
    var button = $('compare');
    button.disabled = true;
    setStatus('Comparing\u2026');
    var started = performance.now();
    try {
      var response = await fetch('/compare?format=html', request.init);
      if (!response.ok) {
        var detail = null;
        try { detail = (await response.json()).detail; } catch (e) { detail = null; }
        var titles = {413: 'Too large.', 415: 'Unsupported input.', 422: 'These articles cannot be compared.',
                      503: 'The server is busy.', 504: 'The comparison took too long.'};
        showError(titles[response.status] || ('The server answered ' + response.status + '.'), errorItems(detail));
        setStatus('');
        return;
      }
      var page = await response.text();
      var frame = $('report');
      // srcdoc takes the page as a string: the browser parses it inside the sandboxed frame, an
      // opaque origin that can neither read this page nor call the API.
      frame.srcdoc = page;
      $('result').hidden = false;
      setStatus('Compared in ' + Math.round(performance.now() - started) + ' ms.');
      frame.scrollIntoView({behavior: 'smooth', block: 'start'});
    } catch (err) {
      showError('The server could not be reached.', [String(err && err.message || err)]);
      setStatus('');
    } finally {
      button.disabled = false;
    }
  }

  function init() {
    SIDES.forEach(wire);
    $('compare-form').addEventListener('submit', compare);
    document.addEventListener('keydown', function (ev) {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === 'Enter') $('compare-form').requestSubmit();
    });
    fetch('/health').then(function (r) { return r.ok ? r.json() : null; }).then(function (health) {
      if (health && typeof health.max_body_bytes === 'number') maxBodyBytes = health.max_body_bytes;
    }).catch(function () { /* the limit is enforced by the server anyway */ });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
