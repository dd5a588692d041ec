// The newsroom editor: live spoken form and duration, hearing a draft, inserting variables.
// The pages work without it (forms post normally); this only adds the live parts.
(() => {
  const root = document.getElementById("editor");
  if (!root) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const form = $("script-form");

  const postJSON = async (url, payload) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  };

  const values = () => {
    if (form) {
      return {
        body: $("body").value, voice: $("voice").value, speed: $("speed").value,
        repeat: $("repeat").value, engine: $("engine").value, profile: $("profile").value,
        station_id: $("preview-station") ? $("preview-station").value : "",
      };
    }
    const d = root.dataset;
    return {
      body: d.body, voice: d.voice, speed: d.speed, repeat: d.repeat, engine: d.engine,
      profile: d.profile, station_id: $("preview-station") ? $("preview-station").value : "",
    };
  };

  const clock = (seconds) => {
    const s = Math.round(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };

  // --- live spoken form and estimate -----------------------------------------------------
  // What the machine cannot read is marked where it stood and listed in the note above.
  const markedNode = (text, unreadable) => {
    if (!unreadable) return document.createTextNode(text);
    const mark = document.createElement("mark");
    mark.className = "unreadable";
    mark.textContent = text;
    return mark;
  };
  const showSpoken = (data) => {
    const pieces = data.marked || [[data.spoken, false]];
    $("spoken-form").replaceChildren(...pieces.map(([text, bad]) => markedNode(text, bad)));
    const note = $("unreadable-note");
    if (!note) return;
    const tokens = data.unreadable || [];
    const list = [];
    tokens.forEach((u, i) => {
      if (i) list.push(document.createTextNode(", "));
      list.push(markedNode(u.token, true));
    });
    $("unreadable-list").replaceChildren(...list);
    note.hidden = tokens.length === 0;
  };
  let timer = null;
  let sequence = 0;
  const refreshSpoken = async () => {
    const mine = ++sequence;
    try {
      const data = await postJSON(root.dataset.spokenUrl, values());
      if (mine !== sequence) return; // a newer request is on its way
      showSpoken(data);
      $("estimate").textContent = clock(data.estimate_s);
      const error = $("template-error");
      error.hidden = !data.error;
      error.textContent = data.error || "";
    } catch (e) {
      $("template-error").hidden = false;
      $("template-error").textContent = e.message;
    }
  };
  if (form && root.dataset.spokenUrl) {
    const schedule = () => { clearTimeout(timer); timer = setTimeout(refreshSpoken, 350); };
    ["body", "speed", "repeat", "profile", "preview-station"].forEach((id) => {
      const element = $(id);
      if (element) { element.addEventListener("input", schedule); element.addEventListener("change", schedule); }
    });
    refreshSpoken();

    document.querySelectorAll(".insert-variable").forEach((button) => {
      button.addEventListener("click", () => {
        const body = $("body");
        const start = body.selectionStart, end = body.selectionEnd;
        body.setRangeText(button.dataset.variable, start, end, "end");
        body.focus();
        schedule();
      });
    });

    // Select a misread word in the text, then click it in the spoken form's help link.
    $("spoken-form").addEventListener("click", () => {
      const body = $("body");
      const selected = body.value.substring(body.selectionStart, body.selectionEnd).trim();
      if (!selected) return;
      const url = new URL(root.dataset.lexiconUrl, window.location.href);
      url.searchParams.set("term", selected);
      url.searchParams.set("try", selected);
      window.open(url.toString(), "_blank", "noopener");
    });
  }

  // --- hearing it ----------------------------------------------------------------------------
  const drawWaveform = (peaks) => {
    const canvas = $("waveform");
    if (!canvas || !peaks.length) return;
    canvas.hidden = false;
    const context = canvas.getContext("2d");
    const { width, height } = canvas;
    context.clearRect(0, 0, width, height);
    context.fillStyle = "#7a1f1a";
    const bar = width / peaks.length;
    peaks.forEach((peak, index) => {
      const h = Math.max(1, peak * height);
      context.fillRect(index * bar, (height - h) / 2, Math.max(1, bar - 0.5), h);
    });
  };

  const button = $("preview-button");
  if (button) {
    button.addEventListener("click", async () => {
      const progress = $("preview-progress"), error = $("preview-error"), audio = $("preview-audio");
      button.disabled = true;
      error.hidden = true;
      progress.hidden = false;
      const started = Date.now();
      const ticker = setInterval(() => {
        $("preview-elapsed").textContent = Math.round((Date.now() - started) / 1000);
      }, 250);
      try {
        const data = await postJSON(root.dataset.previewUrl, values());
        audio.src = data.audio_url;
        audio.hidden = false;
        audio.load();
        drawWaveform(data.peaks || []);
        $("preview-facts").textContent =
          `${clock(data.duration_s)} · ${data.lufs} LUFS · ${data.engine}` +
          (data.fallback ? " (dự phòng)" : "");
        audio.play().catch(() => {});
      } catch (e) {
        error.hidden = false;
        error.textContent = e.message;
      } finally {
        clearInterval(ticker);
        progress.hidden = true;
        button.disabled = false;
      }
    });
  }
})();
