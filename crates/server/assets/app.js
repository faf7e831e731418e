// Flowspace dashboard: small conveniences on top of pages that work without this script.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // The workspace switcher submits as soon as a workspace is chosen.
  document.querySelectorAll("select[data-autosubmit]").forEach((s) => {
    s.addEventListener("change", () => s.form.submit());
  });

  // Copy buttons: data-copy names the input to copy.
  document.querySelectorAll("[data-copy]").forEach((b) => {
    b.addEventListener("click", async () => {
      const input = document.querySelector(b.dataset.copy);
      if (!input) return;
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
      } catch (_) {
        document.execCommand("copy");
      }
      b.textContent = "Copied";
    });
  });

  // JSON editors: check the text before the form goes, and say where it is wrong.
  const checkJson = (area) => {
    const out = area.parentElement.querySelector(".json-error");
    let msg = "";
    if (area.value.trim() !== "" || !area.hasAttribute("data-optional")) {
      try {
        const v = JSON.parse(area.value);
        if (v === null || typeof v !== "object" || Array.isArray(v)) msg = "Must be a JSON object.";
      } catch (e) {
        msg = "Not valid JSON: " + e.message;
      }
    }
    area.classList.toggle("invalid", msg !== "");
    if (out) out.textContent = msg;
    return msg === "";
  };
  document.querySelectorAll("textarea[data-json]").forEach((area) => {
    area.addEventListener("input", () => checkJson(area));
    area.form.addEventListener("submit", (ev) => {
      if (!checkJson(area)) {
        ev.preventDefault();
        area.focus();
      } else if (area.value.trim() === "" && area.hasAttribute("data-optional")) {
        area.disabled = true; // an empty optional editor keeps what is stored
      }
    });
  });

  // Role grids: ticking any action of a resource ticks its view; unticking view unticks the rest.
  document.querySelectorAll("[data-grid]").forEach((grid) => {
    grid.addEventListener("change", (ev) => {
      const box = ev.target;
      if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
      const [resource, action] = box.value.split(":");
      const row = grid.querySelectorAll(`input[value^="${resource}:"]`);
      if (box.checked && action !== "view") {
        row.forEach((b) => { if (b.value === `${resource}:view`) b.checked = true; });
      } else if (!box.checked && action === "view") {
        row.forEach((b) => { b.checked = false; });
      }
    });
  });

  // Sign-in page: "Sign in with …" for the single sign-on providers of the typed email's
  // organization (SPEC §8). Without JavaScript the password form is all there is.
  const sso = document.getElementById("sso-buttons");
  const loginEmail = document.querySelector("#login-form input[name=email]");
  if (sso && loginEmail) {
    let asked = "";
    const offer = async () => {
      const email = loginEmail.value.trim();
      if (email === asked || !email.includes("@")) return;
      asked = email;
      try {
        const res = await fetch("/api/v1/auth/sso-providers?email=" + encodeURIComponent(email));
        if (!res.ok || asked !== email) return;
        const { items } = await res.json();
        sso.replaceChildren(...items.map((p) => {
          const a = document.createElement("a");
          a.className = "btn block sso-button";
          a.href = p.startUrl + "?next=" + encodeURIComponent(sso.dataset.next || "/");
          a.textContent = "Sign in with " + p.displayName;
          return a;
        }));
        sso.hidden = items.length === 0;
      } catch (_) { /* the password form still works */ }
    };
    loginEmail.addEventListener("change", offer);
    loginEmail.addEventListener("blur", offer);
    loginEmail.addEventListener("input", () => { clearTimeout(loginEmail._t); loginEmail._t = setTimeout(offer, 400); });
  }

  // A table wider than the page scrolls sideways in its frame: the frame takes the focus
  // (then the arrow keys scroll it), named after the section it is in.
  const scrollable = () => document.querySelectorAll(".tablewrap").forEach((w) => {
    if (w.scrollWidth > w.clientWidth) {
      if (!w.hasAttribute("tabindex")) {
        const card = w.closest(".card");
        const heading = (card && card.querySelector("h2")) || document.querySelector("h1");
        w.setAttribute("tabindex", "0");
        w.setAttribute("role", "region");
        w.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table");
      }
    } else if (w.getAttribute("role") === "region") {
      ["tabindex", "role", "aria-label"].forEach((a) => w.removeAttribute(a));
    }
  });
  scrollable();
  window.addEventListener("resize", scrollable);

  // Passkeys (WebAuthn): the server's options carry binary fields in base64url, the browser
  // wants bytes, and the answer goes back in base64url.
  const b64urlToBytes = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  };
  const bytesToB64url = (buf) => {
    if (!buf) return null;
    let bin = "";
    new Uint8Array(buf).forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const withIds = (list) => (list || []).map((c) => ({ ...c, id: b64urlToBytes(c.id) }));
  const credentialJson = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bytesToB64url(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
    } else {
      response.authenticatorData = bytesToB64url(r.authenticatorData);
      response.signature = bytesToB64url(r.signature);
      response.userHandle = bytesToB64url(r.userHandle);
    }
    return {
      id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type, response,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  };
  const postJson = async (path, body, csrf) => {
    const headers = { "Content-Type": "application/json" };
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const res = await fetch("/api/v1" + path, { method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin" });
    const answer = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((answer.error && answer.error.message) || "the server refused (" + res.status + ")");
    return answer;
  };
  const showError = (el, e) => {
    if (!el) return;
    el.textContent = e && e.name === "NotAllowedError" ? "The passkey was not used (cancelled or timed out)." : String((e && e.message) || e);
    el.hidden = false;
  };
  const noWebauthn = !window.PublicKeyCredential || !navigator.credentials;

  // Profile: one of the user's passkeys proves a second factor before the second factors
  // change (the answer to the confirmation's options goes with the change as `passkey`).
  const confirmWithPasskey = async (csrf) => {
    const { publicKey } = await postJson("/auth/mfa/passkeys/confirmation", {}, csrf);
    publicKey.challenge = b64urlToBytes(publicKey.challenge);
    publicKey.allowCredentials = withIds(publicKey.allowCredentials);
    return credentialJson(await navigator.credentials.get({ publicKey }));
  };

  // Profile: remove a passkey with a code (the form as it is), or with a passkey's answer put
  // in the form's `passkey:json` field.
  document.querySelectorAll("form[data-passkey-proof]").forEach((form) => {
    const button = form.querySelector("[data-passkey-confirm]");
    const err = form.querySelector(".form-error");
    if (!button) return;
    if (noWebauthn) button.disabled = true;
    button.addEventListener("click", async () => {
      err.hidden = true;
      if (!form.reportValidity()) return;
      button.disabled = true;
      try {
        form.elements["passkey:json"].value = JSON.stringify(await confirmWithPasskey(form.elements._csrf.value));
        ["code:opt", "recoveryCode:opt"].forEach((n) => { if (form.elements[n]) form.elements[n].value = ""; });
        form.submit();
      } catch (e) {
        showError(err, e);
        button.disabled = false;
      }
    });
  });

  // Profile: register a passkey (the password again, and a proof of a second factor when the
  // account has one; then the browser creates it).
  const register = document.querySelector("form[data-passkey-register]");
  if (register) {
    const err = register.querySelector(".form-error");
    const buttons = register.querySelectorAll("button");
    if (noWebauthn) {
      showError(err, "This browser cannot use passkeys.");
      buttons.forEach((b) => { b.disabled = true; });
    }
    const add = async (withPasskey) => {
      err.hidden = true;
      const csrf = register.elements._csrf.value;
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const body = { password: register.elements.password.value };
        if (withPasskey) {
          body.passkey = await confirmWithPasskey(csrf);
        } else {
          ["code", "recoveryCode"].forEach((n) => {
            const v = register.elements[n] && register.elements[n].value.trim();
            if (v) body[n] = v;
          });
        }
        const { publicKey } = await postJson("/auth/mfa/passkeys/registration", body, csrf);
        publicKey.challenge = b64urlToBytes(publicKey.challenge);
        publicKey.user = { ...publicKey.user, id: b64urlToBytes(publicKey.user.id) };
        publicKey.excludeCredentials = withIds(publicKey.excludeCredentials);
        const cred = await navigator.credentials.create({ publicKey });
        await postJson("/auth/mfa/passkeys", { name: register.elements.name.value, credential: credentialJson(cred) }, csrf);
        location.assign("/profile");
      } catch (e) {
        showError(err, e);
        buttons.forEach((b) => { b.disabled = false; });
      }
    };
    register.addEventListener("submit", (ev) => {
      ev.preventDefault();
      add(false);
    });
    const confirmed = register.querySelector("[data-passkey-confirm]");
    if (confirmed) {
      confirmed.addEventListener("click", () => {
        if (register.reportValidity()) add(true);
      });
    }
  }

  // Second step of a sign-in: "Use a passkey" answers the sign-in's options and posts the
  // answer in the page's hidden form (as a code would be posted).
  const usePasskey = document.querySelector("[data-passkey-signin]");
  if (usePasskey) {
    const form = document.querySelector(usePasskey.dataset.passkeySignin);
    const err = document.getElementById("mfa-passkey-error");
    if (noWebauthn) usePasskey.disabled = true;
    usePasskey.addEventListener("click", async () => {
      err.hidden = true;
      usePasskey.disabled = true;
      try {
        const { publicKey } = await postJson("/auth/mfa/passkey/options", { mfaToken: form.elements.mfaToken.value });
        publicKey.challenge = b64urlToBytes(publicKey.challenge);
        publicKey.allowCredentials = withIds(publicKey.allowCredentials);
        const cred = await navigator.credentials.get({ publicKey });
        form.elements["passkey:json"].value = JSON.stringify(credentialJson(cred));
        form.submit();
      } catch (e) {
        showError(err, e);
        usePasskey.disabled = false;
      }
    });
  }

  // Toasts leave on a click too.
  const toast = document.getElementById("toast");
  if (toast) toast.addEventListener("click", () => toast.remove());

  // Dialogs (a `.modal` shows while its id is the URL's fragment). Opening one moves the
  // focus into it (its first field, else its first button or link other than the ×); Tab and
  // Shift+Tab stay inside it; Escape closes it; closing gives the focus back to what opened it.
  const openDialog = () => {
    const id = decodeURIComponent(location.hash.slice(1));
    const el = id ? document.getElementById(id) : null;
    return el && el.classList.contains("modal") ? el : null;
  };
  const opener = (dialog) => document.querySelector(`a[href="#${CSS.escape(dialog.id)}"]`);
  const focusables = (dialog) => [...dialog.querySelectorAll(
    ".dialog :is(a[href], button, input:not([type=hidden]), select, textarea, summary)",
  )].filter((el) => !el.disabled && el.getClientRects().length > 0);
  // The scrim closes a dialog on a click; the keyboard has Escape and the buttons.
  document.querySelectorAll(".modal-scrim").forEach((a) => a.setAttribute("tabindex", "-1"));
  let shown = null;
  let returnTo = null;
  const dialogChanged = () => {
    const dialog = openDialog();
    if (dialog && dialog !== shown) {
      if (!shown) {
        const active = document.activeElement;
        returnTo = active && active !== document.body ? active : opener(dialog);
      }
      shown = dialog;
      const all = focusables(dialog);
      // The field marked `data-first` (the dialog's main field, after a search box that
      // narrows its choices), else the first field, else the first control.
      const first = all.find((el) => el.hasAttribute("data-first"))
        || all.find((el) => el.matches("input, select, textarea"))
        || all.find((el) => !el.classList.contains("close")) || all[0];
      if (first) first.focus();
    } else if (!dialog && shown) {
      const back = returnTo && document.contains(returnTo) ? returnTo : opener(shown);
      shown = null;
      returnTo = null;
      if (back) back.focus();
    }
  };
  window.addEventListener("hashchange", dialogChanged);
  dialogChanged();

  document.addEventListener("keydown", (ev) => {
    if (!shown) return;
    if (ev.key === "Escape") {
      ev.preventDefault();
      location.hash = "";
    } else if (ev.key === "Tab") {
      const all = focusables(shown);
      if (all.length === 0) return;
      const at = all.indexOf(document.activeElement);
      const next = ev.shiftKey
        ? (at <= 0 ? all[all.length - 1] : all[at - 1])
        : (at === -1 || at === all.length - 1 ? all[0] : all[at + 1]);
      ev.preventDefault();
      next.focus();
    }
  });
});
