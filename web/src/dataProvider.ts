// react-admin's data provider over the public API. The server's listings speak the usual
// conventions (sort, range and filter as JSON; Content-Range with the total); its records come
// wrapped in {"items": [...]}, which is the only reason this is not ra-data-simple-rest.
import type { DataProvider, GetListParams, Identifier, RaRecord } from "react-admin";
import { api, jsonBody } from "./api";

const BASE = "/api/v1";

function total(headers: Headers, body: { total?: number; items: unknown[] }): number {
  const range = headers.get("Content-Range");
  const match = range?.match(/\/(\d+)$/);
  if (match) return Number(match[1]);
  return body.total ?? body.items.length;
}

function listQuery(params: GetListParams): string {
  const { page, perPage } = params.pagination ?? { page: 1, perPage: 25 };
  const query = new URLSearchParams({
    range: JSON.stringify([(page - 1) * perPage, page * perPage - 1]),
    filter: JSON.stringify(cleanFilter(params.filter ?? {})),
  });
  if (params.sort?.field) query.set("sort", JSON.stringify([params.sort.field, params.sort.order]));
  return query.toString();
}

function cleanFilter(filter: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(filter).filter(([, value]) => value !== "" && value !== undefined));
}

function withId(resource: string, record: Record<string, unknown>): RaRecord {
  if (resource === "policies" && record.id === undefined) return { ...record, id: record.name as string } as RaRecord;
  return record as RaRecord;
}

const one = async (resource: string, id: Identifier): Promise<RaRecord> => {
  if (resource === "policies") {
    // A policy's resource is its history, newest version first.
    const { json } = await api<{ items: Record<string, unknown>[] }>(`${BASE}/policies/${encodeURIComponent(String(id))}`);
    return withId(resource, { ...json.items[0], history: json.items });
  }
  const { json } = await api<Record<string, unknown>>(`${BASE}/${resource}/${encodeURIComponent(String(id))}`);
  return withId(resource, json);
};

export const dataProvider: DataProvider = {
  async getList(resource, params) {
    const { headers, json } = await api<{ items: Record<string, unknown>[]; total?: number }>(
      `${BASE}/${resource}?${listQuery(params)}`,
    );
    return { data: json.items.map((item) => withId(resource, item)), total: total(headers, json) } as never;
  },
  async getOne(resource, params) {
    return { data: await one(resource, params.id) } as never;
  },
  async getMany(resource, params) {
    return { data: await Promise.all(params.ids.map((id) => one(resource, id))) } as never;
  },
  async getManyReference(resource, params) {
    return this.getList(resource, { ...params, filter: { ...params.filter, [params.target]: params.id } });
  },
  async create(resource, params) {
    if (resource === "policies") {
      const { json } = await api<{ items: Record<string, unknown>[] }>(`${BASE}/policies?source=web`, {
        method: "POST",
        body: String(params.data.document ?? ""),
        headers: { "Content-Type": "application/yaml" },
      });
      return { data: withId(resource, json.items[0] ?? { id: "?" }) } as never;
    }
    const { json } = await api<Record<string, unknown>>(`${BASE}/${resource}`, jsonBody(params.data));
    return { data: withId(resource, json) } as never;
  },
  async update(resource, params) {
    return { data: (await this.create(resource, { data: params.data })).data } as never;
  },
  async updateMany() {
    throw new Error("not supported");
  },
  async delete(resource, params) {
    if (resource === "holds") {
      const { json } = await api<RaRecord>(`${BASE}/holds/${params.id}/release`, jsonBody({ reason: params.meta?.reason ?? "" }));
      return { data: json } as never;
    }
    await api(`${BASE}/${resource}/${encodeURIComponent(String(params.id))}`, { method: "DELETE" });
    return { data: params.previousData ?? { id: params.id } } as never;
  },
  async deleteMany(resource, params) {
    for (const id of params.ids) await this.delete(resource, { id });
    return { data: params.ids };
  },
};
