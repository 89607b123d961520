// Passkeys in the portal: the person's own device signs every act that creates or ends a legal
// basis, and each erasure, copy of their templates and API token. Served by the app (no CDN) and
// loaded with <script src> only, so the pages run under Content-Security-Policy
// script-src 'self'. Everything is wired through data- attributes.
"use strict";

(function () {
  function toBuffer(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  }

  function toText(buffer) {
    let binary = "";
    new Uint8Array(buffer).forEach((byte) => { binary += String.fromCharCode(byte); });
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    return Object.assign({}, options, {
      challenge: toBuffer(options.challenge),
      user: Object.assign({}, options.user, { id: toBuffer(options.user.id) }),
      excludeCredentials: (options.excludeCredentials || []).map(
        (c) => Object.assign({}, c, { id: toBuffer(c.id) })),
    });
  }

  function requestOptions(options) {
    return Object.assign({}, options, {
      challenge: toBuffer(options.challenge),
      allowCredentials: (options.allowCredentials || []).map(
        (c) => Object.assign({}, c, { id: toBuffer(c.id) })),
    });
  }

  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type, response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment,
    };
  }

  async function postJSON(url, body, csrf) {
    const answer = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" },
      body: JSON.stringify(body),
    });
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      const error = new Error((data.code ? data.code + ": " : "") + (data.message || answer.statusText));
      error.answer = data;
      throw error;
    }
    return data;
  }

  async function create(options) {
    const made = await navigator.credentials.create({ publicKey: creationOptions(options) });
    return credentialJSON(made);
  }

  async function sign(options) {
    const got = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return credentialJSON(got);
  }

  // What the person reads, always in the page's language: a refusal's advice (written for
  // people by the server), else the page's own words (base.html) for what went wrong on the
  // device or on the way; never a code, nor a library's or the browser's English.
  function told(error) {
    const details = (error.answer && error.answer.details) || {};
    const words = document.body.dataset;
    if (details.advice) { return details.advice; }
    if (error.advice) { return words[error.advice]; }
    if (error.answer) { return words.adviceRefused; }
    if (error instanceof DOMException) { return words.adviceDevice; }
    // fetch fails with a TypeError; so does a browser without WebAuthn, told apart here.
    return window.PublicKeyCredential ? words.adviceNetwork : words.adviceUnsupported;
  }

  // An erased record also reveals the way to its erasure receipt.
  function showError(scope, error) {
    const within = (selector) => (scope && scope.querySelector(selector))
      || document.querySelector(selector);
    const details = (error.answer && error.answer.details) || {};
    const box = within("[data-passkey-error]");
    if (box) { box.textContent = told(error); box.hidden = false; }
    const receipt = within("[data-erasure-receipt]");
    if (receipt && details.erasure_receipt) { receipt.hidden = false; }
  }

  async function digest(file) {
    const hash = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    return Array.from(new Uint8Array(hash)).map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  // What each form asks the person to sign, read from its fields.
  async function actOf(form) {
    const kind = form.dataset.act;
    const field = (name) => form.elements.namedItem(name);
    if (kind === "consent") {
      const days = Number(field("duration_days").value);
      return {
        act: "consent", notice_id: field("notice_id").value, language: field("language").value,
        purposes: Array.from(form.querySelectorAll("input[name=purposes]:checked"))
          .map((box) => box.value),
        expires_at: new Date(Date.now() + days * 86400000).toISOString(),
        // The wording the page showed: the server refuses to have another one signed.
        wording_sha256: field("wording_sha256").value,
      };
    }
    if (kind === "withdraw") {
      const purpose = field("purpose_id");
      return { act: "withdraw", consent_id: field("consent_id").value,
               purpose_id: purpose ? purpose.value : null };
    }
    if (kind === "searchable") {
      return { act: "searchable", searchable: field("searchable").value === "true" };
    }
    if (kind === "enrol") {
      const file = field("image").files[0];
      if (!file) { throw Object.assign(new Error("no photo"), { advice: "advicePhoto" }); }
      const replaces = field("replaces");  // absent until the person has a template
      return { act: "enrol", consent_id: field("consent_id").value, photo_sha256: await digest(file),
               replaces: replaces && replaces.value ? Number(replaces.value) : null };
    }
    if (kind === "erase" || kind === "template_copy" || kind === "subject_token") {
      return { act: kind };  // the statement names the person, a nonce and its end
    }
    if (kind === "disclose") {
      return { act: "disclose", recipient: field("recipient").value,
               recipient_country: field("recipient_country").value,
               recipient_region: field("recipient_region").value || null,
               legal_basis: field("legal_basis").value,
               document_reference: field("document_reference").value,
               transfer_assessment: field("transfer_assessment").value || null };
    }
    throw new Error("unknown act " + kind);
  }

  // A form whose act is signed: ask the server for the statement, sign it, post the form.
  async function signAndSubmit(form) {
    const csrf = form.elements.namedItem("csrf").value;
    let options = null;
    let ceremony = form.dataset.ceremony;
    if (form.dataset.act === "consent" && !form.querySelector("input[name=purposes]:checked")) {
      form.submit();  // nothing to sign: the server shows its advice beside the field
      return;
    }
    // A confirmation left unticked (the last use, an erasure, a copy of the templates):
    // nothing to sign yet, the server asks to confirm.
    const confirm = form.querySelector("input[type=checkbox][name=confirm]");
    if (confirm && !confirm.checked) {
      form.submit();
      return;
    }
    if (ceremony) {
      options = JSON.parse(form.dataset.options);
    } else {
      const challenge = await postJSON("/portal/challenge", await actOf(form), csrf);
      ceremony = challenge.ceremony_id;
      options = challenge.options;
    }
    const credential = await sign(options);
    form.elements.namedItem("signed").value = JSON.stringify({ ceremony_id: ceremony, credential });
    form.submit();
  }

  async function signIn(button) {
    const csrf = button.dataset.csrf;
    const challenge = await postJSON("/portal/passkey/options", {}, csrf);
    const credential = await sign(challenge.options);
    await postJSON("/portal/passkey/sign-in", { ceremony_id: challenge.ceremony_id, credential }, csrf);
    window.location.assign("/portal");
  }

  async function register(button) {
    const link = window.location.hash.slice(1);
    const options = await postJSON("/v1/passkeys/registration-options", { link });
    const made = await postJSON("/v1/passkeys/registrations",
      { ceremony_id: options.ceremony_id, credential: await create(options.options) });
    document.getElementById("registered").hidden = false;
    // Whose passkey it is, in the reader's words the page holds (a capacity it has no words
    // for is shown as its code, never hidden).
    const capacity = document.getElementById("registered-capacity");
    const said = capacity.querySelector('[data-capacity="' + made.capacity + '"]');
    if (said) { said.hidden = false; } else { capacity.textContent = made.capacity; }
    button.hidden = true;
  }

  let probeChallenge = null;
  let probeShown = null;

  function setText(id, text) { document.getElementById(id).textContent = text; }

  // An operator's text in the page's language, as the server found it (consent.operator_texts):
  // one with no translation is in English, marked in the page's words by the marker the page
  // holds beside it, hidden until then.
  function setOwn(id, text) {
    const inEnglish = probeShown.english_only.includes(text);
    setText(id, text);
    if (inEnglish) { document.getElementById(id).lang = "en"; }
    document.getElementById(id + "-english-only").hidden = !inEnglish;
  }

  // What the link asks, shown before anything is made or signed: the notice the statement
  // commits to (its text, version and SHA-256), who answers for it, the purpose, the photo's
  // hash and the researcher's key. Reading it uses nothing up.
  async function probeAsked(box) {
    const link = window.location.hash.slice(1);
    const language = encodeURIComponent(document.documentElement.lang);
    const asked = await postJSON("/v1/probe-links/request?lang=" + language, { link });
    const who = asked.notice.accountability;
    probeShown = asked.purpose_shown;
    setOwn("probe-purpose", probeShown.name);
    setOwn("probe-purpose-description", probeShown.description);
    setText("probe-notice-version", asked.notice.version);
    setText("probe-notice", asked.notice.text);
    document.getElementById("probe-notice").lang = asked.notice.language;
    setText("probe-notice-sha256", asked.notice.sha256);
    setText("probe-controller", who ? who.controller_name + " (" + who.controller_contact + ")" : "");
    setText("probe-image", asked.probe_sha256);
    setText("probe-researcher", asked.researcher_key_id);
    box.hidden = false;
  }

  async function probeRegister(button) {
    const link = window.location.hash.slice(1);
    const options = await postJSON("/v1/probe-links/registration-options", { link });
    probeChallenge = await postJSON("/v1/probe-links/registrations",
      { ceremony_id: options.ceremony_id, credential: await create(options.options) });
    showProbeStatement(button);
  }

  // A verify's link: the subject signs with the passkey they registered, none is made.
  async function probeSubject(button) {
    const link = window.location.hash.slice(1);
    probeChallenge = await postJSON("/v1/probe-links/subject-challenge", { link });
    showProbeStatement(button);
  }

  // The statement to sign names what the page showed from the link (probeAsked).
  function showProbeStatement(button) {
    document.getElementById("probe-statement").hidden = false;
    button.hidden = true;
  }

  // Declining signs nothing and sends nothing: without a signature no search can use the photo.
  async function probeDecline() {
    ["probe-asked", "probe-statement"].forEach((id) => { document.getElementById(id).hidden = true; });
    document.getElementById("probe-declined").hidden = false;
  }

  async function probeSign(button) {
    const credential = await sign(probeChallenge.options);
    const consent = await postJSON("/v1/probe-links/signatures",
      { ceremony_id: probeChallenge.ceremony_id, credential });
    setOwn("probe-done-purpose", probeShown.name);
    // In the deployment's time zone, as every time the server writes (the span's data-zone).
    const until = document.getElementById("probe-done-until");
    until.textContent = new Date(consent.expires_at).toLocaleString(document.documentElement.lang, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: until.dataset.zone, timeZoneName: "short" });
    setText("probe-done-id", consent.id);
    setText("receipt", JSON.stringify(consent, null, 2));
    document.getElementById("probe-asked").hidden = true;
    document.getElementById("probe-done").hidden = false;
    button.hidden = true;
  }

  function on(selector, event, handler) {
    document.querySelectorAll(selector).forEach((element) => {
      element.addEventListener(event, (e) => {
        e.preventDefault();
        handler(element).catch((error) => showError(element.closest("section"), error));
      });
    });
  }

  // A photo replaces only a template of the consent it is enrolled under (the server refuses
  // any other): the list offers those alone, and forgets a choice the consent no longer allows.
  function offerReplaceable() {
    const consent = document.getElementById("enrol-consent");
    const replaces = document.getElementById("enrol-replaces");
    if (!consent || !replaces) { return; }
    const follow = () => {
      Array.from(replaces.options).forEach((option) => {
        option.disabled = option.value !== "" && option.dataset.consent !== consent.value;
        option.hidden = option.disabled;
      });
      if (replaces.selectedOptions[0] && replaces.selectedOptions[0].disabled) {
        replaces.value = "";
      }
    };
    consent.addEventListener("change", follow);
    follow();
  }

  document.addEventListener("DOMContentLoaded", () => {
    offerReplaceable();
    on("form[data-act]", "submit", signAndSubmit);
    on("[data-passkey-sign-in]", "click", signIn);
    on("[data-passkey-register]", "click", register);
    on("[data-probe-register]", "click", probeRegister);
    on("[data-probe-subject]", "click", probeSubject);
    on("[data-probe-sign]", "click", probeSign);
    on("[data-probe-decline]", "click", probeDecline);
    document.querySelectorAll("[data-probe-asked]").forEach((box) => {
      probeAsked(box).catch((error) => showError(box.closest("section"), error));
    });
  });
})();
