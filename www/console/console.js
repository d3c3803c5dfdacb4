// Veilmark console: progressive enhancement only (pages work without it, except uploads).
// Upload with progress and drag-and-drop, copy buttons, review selection and keyboard
// shortcuts (j/k move, x select, c confirm, d dismiss).
'use strict';

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---- Upload and seal ---------------------------------------------------------------
  var form = $('#upload');
  if (form) {
    var input = $('#file');
    var drop = $('#drop');
    var title = $('#title');
    var bar = $('#progress');
    var status = $('#upload-status');
    var pick = function (file) {
      if (!file) return;
      status.textContent = 'Selected: ' + file.name + ' (' + Math.round(file.size / 1024) + ' KiB)';
      if (!title.value) title.value = file.name.replace(/\.[^.]+$/, '');
    };
    input.addEventListener('change', function () { pick(input.files[0]); });
    ['dragenter', 'dragover'].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add('over'); });
    });
    ['dragleave', 'drop'].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove('over'); });
    });
    drop.addEventListener('drop', function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        pick(input.files[0]);
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var file = input.files[0];
      if (!file) { status.textContent = 'Choose a file first.'; return; }
      var max = Number(form.dataset.max || 0);
      if (max && file.size > max) {
        status.textContent = 'This file is larger than the server accepts; seal it with veilmark seal.';
        return;
      }
      var xhr = new XMLHttpRequest();
      var level = $('#level');
      xhr.open('POST', '/console/documents/upload?title=' + encodeURIComponent(title.value || file.name) +
        (level && level.value ? '&level=' + encodeURIComponent(level.value) : ''));
      xhr.setRequestHeader('X-CSRF-Token', form.dataset.csrf);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      bar.hidden = false;
      bar.value = 0;
      xhr.upload.addEventListener('progress', function (ev) {
        if (ev.lengthComputable) bar.value = Math.round(100 * ev.loaded / ev.total);
      });
      xhr.addEventListener('load', function () {
        if (xhr.status === 201) {
          bar.value = 100;
          status.textContent = 'Sealed. Reloading…';
          window.location.reload();
        } else {
          var msg = 'Upload failed (' + xhr.status + ')';
          try { msg = JSON.parse(xhr.responseText).message || msg; } catch (_) { /* not JSON */ }
          status.textContent = msg;
        }
      });
      xhr.addEventListener('error', function () { status.textContent = 'Network error; try again.'; });
      status.textContent = 'Uploading and sealing…';
      xhr.send(file);
    });
  }

  // ---- Copy buttons -------------------------------------------------------------------
  $$('.copy-btn').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var field = document.getElementById(btn.dataset.copy);
      if (!field) return;
      field.focus();
      field.select();
      var done = function () { btn.textContent = 'Copied'; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          if (document.execCommand('copy')) done();
        });
      } else if (document.execCommand('copy')) {
        done();
      }
    });
  });

  // ---- Review: select all, keyboard shortcuts ------------------------------------------
  var all = $('#select-all');
  if (all) {
    all.addEventListener('change', function () {
      $$('.pick').forEach(function (c) { c.checked = all.checked; });
    });
  }
  var cards = $$('article.hit');
  if (cards.length) {
    var cur = -1;
    var focus = function (i) {
      if (i < 0 || i >= cards.length) return;
      if (cur >= 0) cards[cur].classList.remove('current');
      cur = i;
      cards[cur].classList.add('current');
      cards[cur].focus();
      cards[cur].scrollIntoView({ block: 'nearest' });
    };
    var act = function (action) {
      if (cur < 0) return;
      var btn = $('button[name="action"][value="' + action + '"]', cards[cur]);
      if (btn) btn.click();
    };
    document.addEventListener('keydown', function (e) {
      var t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.key === 'j') { focus(cur + 1); e.preventDefault(); }
      else if (e.key === 'k') { focus(Math.max(cur - 1, 0)); e.preventDefault(); }
      else if (e.key === 'x' && cur >= 0) { var c = $('.pick', cards[cur]); c.checked = !c.checked; }
      else if (e.key === 'c') { act('confirm'); }
      else if (e.key === 'd') { act('dismiss'); }
    });
  }
})();
