//! Short messages for the user (errors from the server, export results), shown as toasts.

export interface Notice {
  id: number;
  tone: 'info' | 'error';
  text: string;
}

export class Notices {
  list = $state<Notice[]>([]);
  #seq = 0;

  show(text: string, tone: Notice['tone'] = 'info', ttlMs = 6000): void {
    const id = ++this.#seq;
    this.list.push({ id, tone, text });
    // Keep at most a few on screen.
    if (this.list.length > 4) this.list.shift();
    setTimeout(() => this.dismiss(id), ttlMs);
  }

  dismiss(id: number): void {
    this.list = this.list.filter((n) => n.id !== id);
  }
}
