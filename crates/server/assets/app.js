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

  // Toasts leave on a click too.
  const toast = document.getElementById("toast");
  if (toast) toast.addEventListener("click", () => toast.remove());

  // Escape closes an open dialog.
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && location.hash.length > 1 && document.querySelector(location.hash + ".modal")) {
      location.hash = "";
    }
  });
});
