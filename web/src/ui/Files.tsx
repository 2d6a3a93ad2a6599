// Files in messages: pictures inline (a click shows them large), other
// files as a card with their name and size; and the files being
// uploaded in the composer, with their progress.

import { useEffect, useRef, useState } from "preact/hooks";

import { isImage, isStale, sizeOf } from "../files";
import type { SharedFile } from "../state";

/** The largest a picture is shown in the log, in CSS pixels. */
const SHOWN = 320;

/** A message's files. Their links expire a day or so after they came:
 * `onStale` gets fresh ones (a picture that fails to load asks once; a
 * download or a picture opened large asks first if need be). */
export function FileList({
  files,
  onStale,
}: {
  files: SharedFile[];
  onStale: () => Promise<void>;
}) {
  const [large, setLarge] = useState<SharedFile | null>(null);
  // Fresh links are asked for once per link: one the server refuses
  // anyway (the reader left the room) is not asked for again and again.
  const asked = useRef(new Set<string>());
  const refresh = (link: string) => {
    if (asked.current.has(link)) return;
    asked.current.add(link);
    void onStale().catch(() => {});
  };
  return (
    <div class="files">
      {files.map((file) =>
        isImage(file) ? (
          <button
            key={file.id}
            class="picture"
            aria-label={`${file.name}, ${sizeOf(file.size)}: show it large`}
            onClick={() => {
              if (isStale(file.url)) refresh(file.url);
              setLarge(file);
            }}
          >
            <img
              src={file.thumbnailUrl}
              alt={file.name}
              loading="lazy"
              onError={() => refresh(file.thumbnailUrl)}
              {...fitted(file, SHOWN)}
            />
          </button>
        ) : (
          <a
            key={file.id}
            class="file-card"
            href={file.url}
            download={file.name}
            title={`Download ${file.name}`}
            onClick={(e) => {
              if (!isStale(file.url) || asked.current.has(file.url)) return;
              // The fresh link downloads once it has come.
              e.preventDefault();
              asked.current.add(file.url);
              const card = e.currentTarget;
              void onStale()
                .catch(() => {})
                .then(() => card.click());
            }}
          >
            <span class="file-name">{file.name}</span>
            <span class="file-size">
              {sizeOf(file.size)} · {kindOf(file)}
            </span>
          </a>
        ),
      )}
      {large && (
        <Lightbox
          file={files.find((file) => file.id === large.id) ?? large}
          onClose={() => setLarge(null)}
        />
      )}
    </div>
  );
}

/** A picture over the page, as large as fits; Esc, a click or ✕ close it. */
function Lightbox({
  file,
  onClose,
}: {
  file: SharedFile;
  onClose: () => void;
}) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={file.name}
      onClick={onClose}
    >
      <img src={file.url} alt={file.name} {...fitted(file, 4096)} />
      <p class="lightbox-bar" onClick={(e) => e.stopPropagation()}>
        <span>
          {file.name} · {file.width}×{file.height} · {sizeOf(file.size)}
        </span>
        <a href={file.url} download={file.name}>
          Download
        </a>
        <button class="link" aria-label="Close" onClick={onClose}>
          ✕
        </button>
      </p>
    </div>
  );
}

/** `width` and `height` attributes that keep a picture's shape within
 * `most` pixels a side, so the log does not jump when it loads. */
function fitted(file: SharedFile, most: number) {
  const scale = Math.min(1, most / Math.max(file.width, file.height));
  return {
    width: Math.round(file.width * scale),
    height: Math.round(file.height * scale),
  };
}

/** `PDF`, `ZIP`, `text`: a file's kind, from its type. */
function kindOf(file: SharedFile): string {
  const [kind, sub] = file.mimeType.split("/");
  if (kind === "text") return "text";
  const short = sub?.replace(/^(x-|vnd\.)/, "").split(/[.+]/)[0] ?? "";
  return short && short !== "octet-stream" ? short.toUpperCase() : "file";
}

/** A file on its way up from the composer. */
export interface Upload {
  key: number;
  name: string;
  /** How much has gone, 0 to 1. */
  done: number;
  /** Set once the server has it. */
  file: SharedFile | null;
  error: string | null;
}

/** The composer's files, each with its progress (or why it failed) and
 * ✕ to take it off. */
export function UploadTray({
  uploads,
  onRemove,
}: {
  uploads: Upload[];
  onRemove: (key: number) => void;
}) {
  if (uploads.length === 0) return null;
  return (
    <ul class="uploads" aria-label="Files to send">
      {uploads.map((upload) => (
        <li
          key={upload.key}
          class={`upload${upload.error ? " failed" : upload.file ? " done" : ""}`}
        >
          <span class="file-name">{upload.name}</span>
          {upload.error ? (
            <span class="error">{upload.error}</span>
          ) : (
            <progress
              max={1}
              value={upload.file ? 1 : upload.done}
              aria-label={`${upload.name} uploaded`}
            />
          )}
          <button
            type="button"
            class="link"
            aria-label={`Remove ${upload.name}`}
            onClick={() => onRemove(upload.key)}
          >
            ✕
          </button>
        </li>
      ))}
    </ul>
  );
}
