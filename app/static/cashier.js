/* The cashier screen's barcode scanner: the device camera reads the pass's barcode and
   the text it holds is sent through the same find form a cashier types into (the server
   looks it up as POST /api/v1/pos/lookup does). The browser's BarcodeDetector is used
   where it exists and knows a format; otherwise the vendored zxing build
   (static/vendor/zxing-library-*.min.js) is loaded on first use. Without a camera or
   JavaScript the button stays hidden and the typed field works alone. */
(function () {
  "use strict";

  var FORMATS = ["qr_code", "pdf417", "aztec", "code_128"];
  var ZXING_FORMATS = ["QR_CODE", "PDF_417", "AZTEC", "CODE_128"];

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.ZXing) { resolve(); return; }
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("zxing did not load")); };
      document.head.appendChild(script);
    });
  }

  /* A function that reads a video frame (or an image) and resolves to its text or null. */
  function nativeReader() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return Promise.resolve(window.BarcodeDetector.getSupportedFormats()).then(function (known) {
      var formats = FORMATS.filter(function (name) { return known.indexOf(name) >= 0; });
      if (!formats.length) { return null; }
      var detector = new window.BarcodeDetector({ formats: formats });
      return function (source) {
        return detector.detect(source).then(function (found) {
          return found.length ? found[0].rawValue : null;
        });
      };
    }).catch(function () { return null; });
  }

  function zxingReader(src) {
    return loadScript(src).then(function () {
      var ZXing = window.ZXing;
      var hints = new Map();
      hints.set(ZXing.DecodeHintType.POSSIBLE_FORMATS,
                ZXING_FORMATS.map(function (name) { return ZXing.BarcodeFormat[name]; }));
      hints.set(ZXing.DecodeHintType.TRY_HARDER, true);
      var reader = new ZXing.MultiFormatReader();
      reader.setHints(hints);
      var canvas = document.createElement("canvas");
      return function (source) {
        var width = source.videoWidth || source.naturalWidth || source.width;
        var height = source.videoHeight || source.naturalHeight || source.height;
        if (!width || !height) { return Promise.resolve(null); }
        canvas.width = width;
        canvas.height = height;
        canvas.getContext("2d", { willReadFrequently: true }).drawImage(source, 0, 0, width, height);
        try {
          var luminance = new ZXing.HTMLCanvasElementLuminanceSource(canvas);
          var bitmap = new ZXing.BinaryBitmap(new ZXing.HybridBinarizer(luminance));
          return Promise.resolve(reader.decodeWithState(bitmap).getText());
        } catch (error) {
          return Promise.resolve(null);  /* no barcode in this frame */
        }
      };
    });
  }

  function readerFor(button) {
    return nativeReader().then(function (read) {
      if (read) { button.dataset.reader = "native"; return read; }
      button.dataset.reader = "zxing";
      return zxingReader(button.dataset.zxing);
    });
  }

  function setUp(form) {
    var button = form.querySelector("#scan");
    if (!button || form.dataset.scanner || !navigator.mediaDevices
        || !navigator.mediaDevices.getUserMedia) { return; }
    form.dataset.scanner = "ready";
    var panel = form.querySelector("#scanner");
    var video = form.querySelector("#scanner-video");
    var status = form.querySelector("#scanner-status");
    var field = form.querySelector("input[name=q]");
    var stream = null;
    button.hidden = false;

    function stop() {
      if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
      stream = null;
      panel.hidden = true;
      button.hidden = false;
    }

    function found(text) {
      stop();
      field.value = text;
      form.dataset.scanned = text;
      form.requestSubmit();
    }

    function scan(read) {
      if (!stream) { return; }
      read(video).then(function (text) {
        if (text) { found(text); } else { window.setTimeout(function () { scan(read); }, 150); }
      }, function () { window.setTimeout(function () { scan(read); }, 300); });
    }

    button.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (opened) {
          stream = opened;
          video.srcObject = opened;
          panel.hidden = false;
          button.hidden = true;
          return video.play().then(function () { return readerFor(button); });
        })
        .then(function (read) { scan(read); })
        .catch(function () {
          stop();
          status.textContent = button.dataset.noCamera;
          panel.hidden = false;
          video.hidden = true;
        });
    });
    form.querySelector("#scan-stop").addEventListener("click", stop);
  }

  function setUpAll(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("form.find").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });
  /* For the tests and for a photo of a pass: read one image with the same readers. */
  window.loyalpassScanner = {
    readImage: function (image) {
      var button = document.querySelector("#scan");
      return readerFor(button).then(function (read) { return read(image); });
    }
  };
}());
