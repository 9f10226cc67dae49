// Live updates for the dashboard's pages. The pages are complete without
// this script; it only keeps an open page current.
//
// The element marked data-live-events names an event stream of "summary"
// events, one per region update: {region, connected, sig, fields}. Every
// element marked data-region=R data-field=F shows fields[F] of region R.
// When the summary's sig differs from the one the page was drawn from
// (data-sig), the page's other sections (data-fragment: a URL serving that
// section alone) are fetched again and swapped in.
(function () {
  'use strict';

  var root = document.querySelector('[data-live-events]');
  if (!root || !window.EventSource || !window.fetch) {
    return;
  }
  var statusEl = document.querySelector('[data-live-status]');
  var refreshing = false;
  var again = false;

  function setStatus(text, paused) {
    if (!statusEl) {
      return;
    }
    statusEl.hidden = false;
    if (statusEl.textContent !== text) {
      statusEl.textContent = text;
    }
    statusEl.classList.toggle('is-paused', !!paused);
  }

  function byRegion(region, attr) {
    var all = document.querySelectorAll('[data-region][' + attr + ']');
    return Array.prototype.filter.call(all, function (el) {
      return el.getAttribute('data-region') === region;
    });
  }

  function flash(el) {
    el.classList.remove('updated');
    void el.offsetWidth; // restart the animation
    el.classList.add('updated');
  }

  // refresh fetches every section again, one round at a time; a change
  // arriving meanwhile asks for one more round.
  function refresh() {
    if (refreshing) {
      again = true;
      return;
    }
    var sections = document.querySelectorAll('[data-fragment]');
    if (sections.length === 0) {
      return;
    }
    refreshing = true;
    var active = document.activeElement && document.activeElement.id;
    var jobs = Array.prototype.map.call(sections, function (section) {
      // The stuck list keeps the page's filter and page.
      var url = section.getAttribute('data-fragment') + window.location.search;
      return fetch(url, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
        .then(function (resp) {
          if (!resp.ok) {
            throw new Error(resp.status + ' from ' + url);
          }
          return resp.text();
        })
        .then(function (html) {
          var current = document.getElementById(section.id);
          if (current) {
            current.outerHTML = html;
          }
        });
    });
    Promise.all(jobs).then(function () {
      // Keep the keyboard where it was, if that control is still there.
      if (active && document.getElementById(active) && document.activeElement === document.body) {
        document.getElementById(active).focus();
      }
    }).catch(function () {
      setStatus('Live updates paused: the latest lists could not be fetched. Reload the page to try again.', true);
    }).then(function () {
      refreshing = false;
      if (again) {
        again = false;
        refresh();
      }
    });
  }

  var source = new EventSource(root.getAttribute('data-live-events'));
  // The server ends each stream before the sign-in's token is due for
  // renewal, saying so first; the browser reconnects at once, and that
  // request renews the session.
  var renewing = false;
  source.addEventListener('renew', function () {
    renewing = true;
  });
  source.addEventListener('open', function () {
    renewing = false;
    setStatus('Live updates are on: figures change on this page as candidates move.');
  });
  source.addEventListener('error', function () {
    // The browser reconnects by itself after a stream ends (the server ends
    // each one before the sign-in's token is due for renewal, and the
    // reconnect renews it), but not after an error status: the sign-in
    // has ended, or the account may no longer see these figures.
    if (source.readyState === EventSource.CLOSED) {
      setStatus('Live updates have stopped. Reload the page to start them again (you may be asked to sign in).', true);
      return;
    }
    if (renewing) {
      return; // a planned reconnect: nothing to announce
    }
    setStatus('Live updates paused: reconnecting. Figures may be out of date.', true);
  });
  source.addEventListener('summary', function (e) {
    var u;
    try {
      u = JSON.parse(e.data);
    } catch (err) {
      return;
    }
    if (!u.connected) {
      setStatus('Live updates paused: reports are unavailable. Figures may be out of date.', true);
      return;
    }
    setStatus('Live updates are on: figures change on this page as candidates move.');
    Object.keys(u.fields || {}).forEach(function (field) {
      byRegion(u.region, 'data-field').forEach(function (el) {
        if (el.getAttribute('data-field') === field && el.textContent !== u.fields[field]) {
          el.textContent = u.fields[field];
          if (field !== 'as-of') {
            flash(el);
          }
        }
      });
    });
    byRegion(u.region, 'data-sig').forEach(function (el) {
      if (el.getAttribute('data-sig') !== u.sig) {
        el.setAttribute('data-sig', u.sig);
        if (el === root) {
          refresh();
        }
      }
    });
  });
})();
