"use strict";
// Shows why the last login failed (the server redirects with ?error=).
(function () {
  const reasons = {
    bad: "Wrong user name or password.",
    limited: "Too many failed logins from this address: wait a minute.",
    origin: "Refused: the login did not come from this console's page."
  };
  const err = new URLSearchParams(location.search).get("error");
  const p = document.getElementById("login-error");
  if (err && reasons[err]) {
    p.textContent = reasons[err];
    p.hidden = false;
  }
})();
