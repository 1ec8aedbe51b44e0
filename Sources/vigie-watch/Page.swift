import Hummingbird
import NIOCore
import VigieModel

/// The dashboard's one page (no external resource: no CDN, no framework) and
/// the refusal page.
enum Page {
    static func refused(_ language: Language, status: HTTPResponse.Status) -> Response {
        let text = language == .fr
            ? "Accès refusé. Ouvrez l’adresse que « vigie watch » a affichée (elle ne sert qu’une fois)."
            : "Access refused. Open the address “vigie watch” printed (it works once)."
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func html(_ language: Language) -> String {
        let w = language == .fr ? french : english
        return template
            .replacingOccurrences(of: "{{lang}}", with: language.rawValue)
            .replacingOccurrences(of: "{{words}}", with: w)
    }

    static let french = """
        {"title":"Vigie — vue d’ensemble","all":"Tout sélectionner","none":"Aucun","lock":"Verrouiller","unlock":"Déverrouiller",
         "screenshot":"Capture d’écran","send":"Envoyer le message","message":"Message aux postes sélectionnés",
         "selected":"sélectionné(s)","connecting":"connexion…","open":"en direct","paused":"pas d’image","refused":"refusé",
         "failed":"échec","unreachable":"injoignable","offline":"hors ligne","ended":"terminé","locked":"verrouillé",
         "lost":"Connexion au tableau de bord perdue, nouvelle tentative…","noseat":"Sélectionnez d’abord des postes.",
         "view":"vue à distance","control":"contrôle à distance","takeover":"Prendre la main","close":"Fermer",
         "rconnecting":"Connexion au poste…","rconnected":"Connecté","rlost":"Connexion au poste perdue",
         "ropen":"Voir en grand","nonovnc":"noVNC n’a pas pu être chargé (paquet Debian « novnc »).",
         "help":"Demandes d’aide","nohelp":"Aucune demande d’aide en attente.","helpbtn":"Aider…","code":"Code donné par la personne (6 chiffres)",
         "connect":"Se connecter","assist":"assistance","askcontrol":"Demander la main","waiting":"En attente de l’accord de la personne au poste…",
         "asking":"Prise en main demandée : la personne répond sur son écran…","expires":"expire dans","sheet":"Fiche d’intervention",
         "problem":"Problème signalé","diagnosis":"Diagnostic et actions","before":"État avant","after":"État après","advice":"Conseils donnés",
         "save":"Enregistrer la fiche","later":"Plus tard"}
        """

    static let english = """
        {"title":"Vigie — overview","all":"Select all","none":"None","lock":"Lock","unlock":"Unlock",
         "screenshot":"Screenshot","send":"Send message","message":"Message to the selected seats",
         "selected":"selected","connecting":"connecting…","open":"live","paused":"no picture","refused":"refused",
         "failed":"failed","unreachable":"unreachable","offline":"offline","ended":"ended","locked":"locked",
         "lost":"Dashboard connection lost, trying again…","noseat":"Select seats first.",
         "view":"remote view","control":"remote control","takeover":"Take control","close":"Close",
         "rconnecting":"Connecting to the seat…","rconnected":"Connected","rlost":"Connection to the seat lost",
         "ropen":"View full size","nonovnc":"noVNC could not be loaded (Debian package “novnc”).",
         "help":"Help requests","nohelp":"No help request waiting.","helpbtn":"Help…","code":"Code the person gives you (6 digits)",
         "connect":"Connect","assist":"assistance","askcontrol":"Ask for control","waiting":"Waiting for the consent of the person at the seat…",
         "asking":"Control asked: the person answers on their screen…","expires":"expires in","sheet":"Intervention sheet",
         "problem":"Problem reported","diagnosis":"Diagnosis and actions","before":"State before","after":"State after","advice":"Advice given",
         "save":"Save the sheet","later":"Later"}
        """

    static let template = #"""
        <!doctype html>
        <html lang="{{lang}}">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Vigie</title>
        <style>
        :root { --bg:#f4f5f7; --ink:#1d1f2b; --muted:#5b6170; --accent:#1f6feb; --warn:#f5c542; --bad:#c0392b; }
        * { box-sizing: border-box; }
        body { margin:0; font: 14px/1.35 system-ui, "DejaVu Sans", sans-serif; background:var(--bg); color:var(--ink); }
        header { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid #d8dbe2; padding:8px 12px;
                 display:flex; flex-wrap:wrap; gap:8px; align-items:center; }
        h1 { font-size:16px; margin:0 12px 0 0; }
        button { font:inherit; padding:6px 10px; border:1px solid #b8bdc9; border-radius:6px; background:#fff; cursor:pointer; }
        button:focus-visible, input:focus-visible, .tile:focus-within { outline:3px solid var(--accent); outline-offset:2px; }
        button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
        input[type=text] { font:inherit; padding:6px 8px; min-width:16em; flex:1; border:1px solid #b8bdc9; border-radius:6px; }
        #count { color:var(--muted); }
        #status { width:100%; color:var(--bad); min-height:1em; }
        main { display:grid; gap:10px; padding:12px; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); }
        /* A room of 30 on a 1920×1080 screen: 8 columns, 4 rows, no scrolling. */
        @media (min-width: 1800px) { main { grid-template-columns: repeat(8, 1fr); } .state { min-height: 1.4em; } }
        .tile { background:#fff; border:2px solid #d8dbe2; border-radius:8px; overflow:hidden; display:flex; flex-direction:column; }
        .tile.selected { border-color:var(--accent); }
        .tile label { display:flex; gap:6px; align-items:center; padding:6px 8px; cursor:pointer; font-weight:600; }
        .screen { aspect-ratio: 16 / 10; background:#2b2d42; display:flex; align-items:center; justify-content:center; }
        .screen img { width:100%; height:100%; object-fit:contain; display:block; }
        .screen .why { color:#e8e9ee; padding:8px; text-align:center; font-size:13px; }
        .state { padding:4px 8px 8px; color:var(--muted); font-size:13px; min-height:2.6em; }
        .badge { display:inline-block; padding:0 6px; border-radius:4px; background:#e8e9ee; color:var(--ink); margin-right:4px; }
        .badge.locked { background:var(--warn); }
        .badge.bad { background:var(--bad); color:#fff; }
        .result { color:var(--ink); }
        .screen { cursor:zoom-in; }
        /* One seat full size (noVNC); red bar while in control. */
        #remote { position:fixed; inset:0; z-index:5; background:#15161e; display:flex; flex-direction:column; }
        #remote[hidden] { display:none; }
        #remote .bar { display:flex; gap:8px; align-items:center; padding:8px 12px; background:#fff; border-bottom:1px solid #d8dbe2; }
        #remote[data-mode=control] .bar { background:var(--bad); color:#fff; }
        #rtitle { font-size:16px; margin:0 12px 0 0; }
        #rstatus { flex:1; }
        #remote[data-state=lost] #rstatus, #remote[data-state=refused] #rstatus, #remote[data-state=failed] #rstatus { font-weight:700; }
        #remote[data-mode=view][data-state=lost] #rstatus, #remote[data-mode=view][data-state=refused] #rstatus { color:var(--bad); }
        #rscreen { flex:1; min-height:0; position:relative; }
        /* Help requests (for those who assist), and the intervention sheet. */
        #help { margin:12px 12px 0; padding:8px 12px; background:#fff; border:2px solid #6c3483; border-radius:8px; }
        #help h2 { font-size:15px; margin:0 0 6px; color:#6c3483; }
        #help ul { list-style:none; margin:0; padding:0; }
        #help li { display:flex; flex-wrap:wrap; gap:8px; align-items:center; padding:4px 0; border-top:1px solid #eee; }
        #help li:first-child { border-top:0; }
        #help .desc { flex:1; }
        #help .left { color:var(--muted); }
        #helpform { display:flex; gap:8px; margin-top:6px; }
        #helpform input { flex:0 0 24em; min-width:0; }
        #sheet { position:fixed; inset:0; z-index:6; background:rgba(20,20,30,.55); display:flex; align-items:center; justify-content:center; }
        #sheet[hidden] { display:none; }
        #sheet form { background:#fff; border-radius:8px; padding:16px; width:min(720px, 95vw); display:grid; gap:8px; }
        #sheet h2 { margin:0; font-size:16px; }
        #sheet label { display:grid; gap:2px; font-weight:600; }
        #sheet textarea { font:inherit; min-height:3em; padding:6px; border:1px solid #b8bdc9; border-radius:6px; }
        #sheetstatus { min-height:1.2em; }
        </style>
        </head>
        <body>
        <header>
          <h1 id="title"></h1>
          <button id="all" type="button"></button>
          <button id="none" type="button"></button>
          <span id="count" aria-live="polite"></span>
          <button id="lock" type="button"></button>
          <button id="unlock" type="button"></button>
          <button id="screenshot" type="button"></button>
          <form id="form" style="display:flex; gap:8px; flex:1; min-width:20em">
            <input id="text" type="text" maxlength="2000" autocomplete="off">
            <button id="send" class="primary" type="submit"></button>
          </form>
          <div id="status" role="status" aria-live="polite"></div>
        </header>
        <section id="help" hidden aria-labelledby="helptitle">
          <h2 id="helptitle"></h2>
          <ul id="helplist"></ul>
          <form id="helpform" hidden>
            <strong id="helpseat"></strong>
            <input id="code" type="text" inputmode="numeric" maxlength="7" autocomplete="off" pattern="[0-9 ]{6,7}">
            <button id="connect" class="primary" type="submit"></button>
          </form>
        </section>
        <main id="tiles" aria-live="off"></main>
        <div id="sheet" hidden role="dialog" aria-labelledby="sheettitle">
          <form id="sheetform">
            <h2 id="sheettitle"></h2>
            <label><span data-w="problem"></span><textarea name="problem" maxlength="2000"></textarea></label>
            <label><span data-w="diagnosis"></span><textarea name="diagnosis" maxlength="2000"></textarea></label>
            <label><span data-w="before"></span><textarea name="before" maxlength="2000"></textarea></label>
            <label><span data-w="after"></span><textarea name="after" maxlength="2000"></textarea></label>
            <label><span data-w="advice"></span><textarea name="advice" maxlength="2000"></textarea></label>
            <div id="sheetstatus" role="status" aria-live="polite"></div>
            <div style="display:flex; gap:8px; justify-content:flex-end">
              <button id="later" type="button"></button>
              <button id="save" class="primary" type="submit"></button>
            </div>
          </form>
        </div>
        <div id="remote" hidden role="dialog" aria-labelledby="rtitle">
          <div class="bar">
            <h2 id="rtitle"></h2>
            <span id="rstatus" role="status" aria-live="polite"></span>
            <button id="takeover" type="button" hidden></button>
            <button id="rclose" type="button"></button>
          </div>
          <div id="rscreen"></div>
        </div>
        <script>
        "use strict";
        const W = {{words}};
        const $ = (id) => document.getElementById(id);
        document.title = W.title;
        $("title").textContent = W.title;
        for (const id of ["all", "none", "lock", "unlock", "screenshot", "send", "takeover"]) $(id).textContent = W[id];
        $("rclose").textContent = W.close;
        for (const id of ["connect", "save", "later"]) $(id).textContent = W[id];
        $("helptitle").textContent = W.help;
        $("code").placeholder = W.code;
        $("code").setAttribute("aria-label", W.code);
        for (const el of document.querySelectorAll("[data-w]")) el.textContent = W[el.dataset.w];
        $("text").placeholder = W.message;
        $("text").setAttribute("aria-label", W.message);
        const tiles = new Map();
        const urls = new Map();

        function tile(seat, room) {
          if (tiles.has(seat)) return tiles.get(seat);
          const el = document.createElement("section");
          el.className = "tile";
          el.dataset.seat = seat;
          el.innerHTML = '<label><input type="checkbox"> <span class="name"></span></label>' +
            '<div class="screen"><div class="why"></div></div><div class="state"></div>';
          el.querySelector(".name").textContent = seat + (room ? " · " + room : "");
          el.querySelector("input").addEventListener("change", (e) => { el.classList.toggle("selected", e.target.checked); count(); });
          // A click (or Enter) on the picture: the seat full size.
          const screen = el.querySelector(".screen");
          screen.tabIndex = 0;
          screen.setAttribute("role", "button");
          screen.setAttribute("aria-label", W.ropen + " : " + seat);
          screen.addEventListener("click", () => remoteOpen(seat, "view"));
          screen.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); remoteOpen(seat, "view"); } });
          $("tiles").appendChild(el);
          tiles.set(seat, el);
          return el;
        }

        function selected() {
          return [...tiles.entries()].filter(([, el]) => el.querySelector("input").checked).map(([seat]) => seat);
        }
        function count() { $("count").textContent = selected().length + " " + W.selected; }

        function show(u, jpeg) {
          const el = tile(u.seat, u.room);
          const screen = el.querySelector(".screen");
          if (jpeg) {
            const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
            let img = screen.querySelector("img");
            if (!img) { screen.innerHTML = ""; img = document.createElement("img"); img.alt = u.seat; screen.appendChild(img); }
            img.src = url;
            if (urls.has(u.seat)) URL.revokeObjectURL(urls.get(u.seat));
            urls.set(u.seat, url);
          } else if (u.state && u.state !== "open" && u.state !== "connecting") {
            screen.innerHTML = '<div class="why"></div>';
            screen.querySelector(".why").textContent = u.message || W[u.state] || u.state;
          }
          if (u.state) el.dataset.state = u.state;
          if (u.user !== undefined) el.querySelector(".name").textContent = u.seat + " · " + (u.room || el.dataset.room || "") + (u.user ? " — " + u.user : "");
          if (u.room) el.dataset.room = u.room;
          if (u.locked !== undefined) el.dataset.locked = u.locked ? "1" : "0";
          const state = el.querySelector(".state");
          const bad = ["refused", "failed", "unreachable", "offline"].includes(el.dataset.state);
          let html = '<span class="badge' + (bad ? " bad" : "") + '"></span>';
          if (el.dataset.locked === "1") html += '<span class="badge locked"></span>';
          html += '<span class="msg"></span>';
          state.innerHTML = html;
          state.querySelector(".badge").textContent = W[el.dataset.state] || el.dataset.state || "";
          if (el.dataset.locked === "1") state.querySelector(".badge.locked").textContent = W.locked;
          // What the screen area already says is not repeated below it.
          let msg = u.message !== undefined ? u.message : (el.dataset.msg || "");
          if (!u.result && screen.querySelector(".why") && msg === screen.querySelector(".why").textContent) msg = "";
          el.dataset.msg = msg;
          state.querySelector(".msg").textContent = msg;
        }

        function result(r) {
          const el = tile(r.seat);
          if (r.locked !== undefined) el.dataset.locked = r.locked ? "1" : "0";
          show({ seat: r.seat, message: r.message, result: true });
          el.querySelector(".msg").classList.add("result");
        }

        let socket = null, delay = 500;
        function connect() {
          socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
          // A picture comes as one binary message: u32 length of the JSON, the JSON, the JPEG.
          socket.binaryType = "arraybuffer";
          socket.onopen = () => { delay = 500; $("status").textContent = ""; };
          socket.onmessage = (e) => {
            let m, jpeg = null;
            if (typeof e.data === "string") m = JSON.parse(e.data);
            else {
              const n = new DataView(e.data).getUint32(0);
              m = JSON.parse(new TextDecoder().decode(new Uint8Array(e.data, 4, n)));
              jpeg = new Uint8Array(e.data, 4 + n);
            }
            if (m.type === "hello") { for (const s of m.seats) tile(s.seat, s.room); count(); }
            else if (m.type === "tile") show(m, jpeg);
            else if (m.type === "result") result(m);
            else if (m.type === "remote") remoteAnswer(m);
            else if (m.type === "remote-ended") remoteEnded(m);
            else if (m.type === "help") helpList(m);
            else if (m.type === "assist-control") assistControl(m);
            else if (m.type === "note") noted(m);
          };
          socket.onclose = () => {
            $("status").textContent = W.lost;
            setTimeout(connect, delay);
            delay = Math.min(delay * 2, 8000);
          };
        }
        function act(action, extra) {
          const seats = selected();
          if (!seats.length) { $("status").textContent = W.noseat; return; }
          $("status").textContent = "";
          if (socket && socket.readyState === 1) socket.send(JSON.stringify(Object.assign({ type: "action", action, seats }, extra || {})));
        }
        // One seat full size, through noVNC (Debian's, served under /novnc/): the seat
        // answers first (its policy), then noVNC connects with a one-time ticket and password.
        const R = { rfb: null, ticket: null, seat: null, mode: null, ended: null, intervention: null };
        function remoteState(state, text) { $("remote").dataset.state = state; $("rstatus").textContent = text; }
        function remoteOpen(seat, mode, extra) {
          remoteDisconnect(false);
          Object.assign(R, { seat, mode, ticket: null, ended: null, intervention: null });
          $("remote").hidden = false;
          $("remote").dataset.mode = mode === "assist" ? "view" : mode;
          $("rtitle").textContent = seat + " — " + W[mode];
          $("takeover").hidden = true;
          $("takeover").textContent = mode === "assist" ? W.askcontrol : W.takeover;
          $("rscreen").innerHTML = "";
          remoteState("connecting", mode === "assist" ? W.waiting : W.rconnecting);
          if (socket && socket.readyState === 1) socket.send(JSON.stringify(Object.assign({ type: "remote", seat, mode }, extra || {})));
          $("rclose").focus();
        }
        async function remoteAnswer(m) {
          if ($("remote").hidden || m.seat !== R.seat || m.mode !== R.mode || R.ticket) {
            if (m.ticket) socket.send(JSON.stringify({ type: "remote-close", ticket: m.ticket }));
            return;
          }
          if (m.status !== "ok") { remoteState(m.status === "refused" ? "refused" : "failed", m.message); return; }
          R.ticket = m.ticket;
          R.intervention = m.intervention || null;
          const ticket = m.ticket;
          $("takeover").hidden = !m.control;
          let RFB;
          try { RFB = (await import("/novnc/core/rfb.js")).default; } catch (e) { remoteState("failed", W.nonovnc); return; }
          if (R.ticket !== ticket) return;
          const rfb = new RFB($("rscreen"), (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/vnc/" + ticket,
                              { credentials: { password: m.password } });
          rfb.viewOnly = m.mode !== "control";
          rfb.scaleViewport = true;
          rfb.addEventListener("connect", () => {
            if (R.ticket === ticket) remoteState("connected", (m.intervention ? m.message + " (" + m.intervention + ")" : W.rconnected) + (m.user ? " — " + m.user : ""));
            if (m.mode === "control") rfb.focus();
          });
          rfb.addEventListener("disconnect", () => {
            if (R.ticket !== ticket) return;
            R.rfb = null;
            remoteState("lost", W.rlost + (R.ended ? " : " + R.ended : ""));
          });
          R.rfb = rfb;
        }
        function remoteEnded(m) {
          if (m.ticket !== R.ticket) return;
          R.ended = m.message;
          if ($("remote").dataset.state === "lost") remoteState("lost", W.rlost + " : " + m.message);
        }
        function remoteDisconnect(hide) {
          const rfb = R.rfb, ticket = R.ticket;
          Object.assign(R, { rfb: null, ticket: null });
          if (rfb) { try { rfb.disconnect(); } catch (e) {} }
          if (ticket && socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "remote-close", ticket }));
          if (hide) { $("remote").hidden = true; $("rscreen").innerHTML = ""; }
        }
        $("rclose").onclick = () => {
          const intervention = R.intervention;
          remoteDisconnect(true);
          // After an assistance: its sheet, completed here.
          if (intervention) sheetOpen(intervention);
        };
        $("takeover").onclick = () => {
          if (R.mode !== "assist") { remoteOpen(R.seat, "control"); return; }
          $("takeover").hidden = true;
          $("rstatus").textContent = W.asking;
          if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "assist-control", ticket: R.ticket }));
        };
        // The help requests waiting, in the rooms where this person may assist.
        function helpList(m) {
          $("help").hidden = false;
          const list = $("helplist");
          list.innerHTML = "";
          if (m.problem) { const li = document.createElement("li"); li.textContent = m.problem; list.appendChild(li); }
          if (!m.requests.length) { const li = document.createElement("li"); li.textContent = W.nohelp; list.appendChild(li); return; }
          for (const r of m.requests) {
            const li = document.createElement("li");
            li.dataset.seat = r.seat;
            li.innerHTML = '<strong class="seat"></strong><span class="who"></span><span class="desc"></span><span class="left"></span><button type="button"></button>';
            li.querySelector(".seat").textContent = r.seat + " · " + r.room;
            li.querySelector(".who").textContent = r.user || "";
            li.querySelector(".desc").textContent = r.description ? "« " + r.description + " »" : "";
            const s = parseInt(r.expires_in || "0", 10);
            li.querySelector(".left").textContent = W.expires + " " + Math.floor(s / 60) + " min";
            const b = li.querySelector("button");
            b.textContent = W.helpbtn;
            b.onclick = () => { $("helpform").hidden = false; $("helpform").dataset.seat = r.seat; $("helpseat").textContent = r.seat; $("code").value = ""; $("code").focus(); };
            list.appendChild(li);
          }
        }
        $("helpform").onsubmit = (e) => {
          e.preventDefault();
          const code = $("code").value.replace(/\s/g, "");
          $("code").value = "";
          $("helpform").hidden = true;
          remoteOpen($("helpform").dataset.seat, "assist", { code });
        };
        function assistControl(m) {
          if (m.ticket !== R.ticket) return;
          $("rstatus").textContent = m.message;
          if (m.status === "ok" && R.rfb) {
            R.rfb.viewOnly = false;
            $("remote").dataset.mode = "control";
            R.rfb.focus();
          } else {
            $("takeover").hidden = false;
          }
        }
        function sheetOpen(intervention) {
          $("sheet").hidden = false;
          $("sheet").dataset.intervention = intervention;
          $("sheettitle").textContent = W.sheet + " " + intervention;
          $("sheetstatus").textContent = "";
          $("sheetform").reset();
          $("sheetform").querySelector("textarea").focus();
        }
        $("sheetform").onsubmit = (e) => {
          e.preventDefault();
          const note = { type: "note", intervention: $("sheet").dataset.intervention };
          for (const t of $("sheetform").querySelectorAll("textarea")) note[t.name] = t.value;
          if (socket && socket.readyState === 1) socket.send(JSON.stringify(note));
        };
        $("later").onclick = () => { $("sheet").hidden = true; };
        function noted(m) {
          if (m.intervention !== $("sheet").dataset.intervention) return;
          $("sheetstatus").textContent = m.message;
          $("sheet").dataset.saved = m.status === "ok" ? "1" : "0";
        }
        $("all").onclick = () => { for (const el of tiles.values()) { el.querySelector("input").checked = true; el.classList.add("selected"); } count(); };
        $("none").onclick = () => { for (const el of tiles.values()) { el.querySelector("input").checked = false; el.classList.remove("selected"); } count(); };
        $("lock").onclick = () => act("lock");
        $("unlock").onclick = () => act("unlock");
        $("screenshot").onclick = () => act("screenshot");
        $("form").onsubmit = (e) => { e.preventDefault(); const text = $("text").value.trim(); if (text) { act("message", { text }); $("text").value = ""; } };
        connect();
        </script>
        </body>
        </html>
        """#
}
