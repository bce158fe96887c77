// Passkeys (WebAuthn) without inline script or any library. A form with
// data-passkey-options runs a ceremony on submit: it asks the server for the options
// (a form post carrying the session's CSRF token), hands them to
// navigator.credentials.create or .get, puts the browser's answer as JSON in the
// form's "credential" field and submits the form as usual. The server keeps the
// challenge; this file only converts between base64url text and bytes.
(function () {
  "use strict";

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    var pk = json.publicKey;
    pk.challenge = toBytes(pk.challenge);
    pk.user.id = toBytes(pk.user.id);
    (pk.excludeCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return { publicKey: pk };
  }

  function requestOptions(json) {
    var pk = json.publicKey;
    pk.challenge = toBytes(pk.challenge);
    (pk.allowCredentials || []).forEach(function (c) {
      c.id = toBytes(c.id);
    });
    return { publicKey: pk };
  }

  function registrationAnswer(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        attestationObject: toText(r.attestationObject),
        clientDataJSON: toText(r.clientDataJSON),
        transports: r.getTransports ? r.getTransports() : undefined,
      },
    };
  }

  function authenticationAnswer(cred) {
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toText(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        authenticatorData: toText(r.authenticatorData),
        clientDataJSON: toText(r.clientDataJSON),
        signature: toText(r.signature),
        userHandle: toText(r.userHandle),
      },
    };
  }

  function say(form, text) {
    var box = form.querySelector("[data-passkey-message]");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }

  function run(form) {
    var csrf = form.querySelector("input[name=csrf]");
    var answer = form.querySelector("input[name=credential]");
    var create = form.dataset.passkeyMode === "create";
    var body = new URLSearchParams();
    body.set("csrf", csrf ? csrf.value : "");
    return fetch(form.dataset.passkeyOptions, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: body.toString(),
    })
      .then(function (res) {
        if (!res.ok) {
          throw new Error("options " + res.status);
        }
        return res.json();
      })
      .then(function (json) {
        return create
          ? navigator.credentials.create(creationOptions(json))
          : navigator.credentials.get(requestOptions(json));
      })
      .then(function (cred) {
        if (!cred) {
          throw new Error("no credential");
        }
        answer.value = JSON.stringify(create ? registrationAnswer(cred) : authenticationAnswer(cred));
        form.dataset.passkeyDone = "1";
        form.submit();
      });
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey-options]").forEach(function (form) {
      if (supported()) {
        form.hidden = false;
      }
    });
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.passkeyOptions || form.dataset.passkeyDone) {
      return;
    }
    ev.preventDefault();
    if (!supported()) {
      say(form, form.dataset.passkeyError || "");
      return;
    }
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) {
      b.disabled = true;
    });
    run(form).catch(function () {
      buttons.forEach(function (b) {
        b.disabled = false;
      });
      say(form, form.dataset.passkeyError || "");
    });
  });
})();
