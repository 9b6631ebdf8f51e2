import type { CompatSettings } from '../policy/compile-env.ts';

/**
 * What the loader hands over: the APIOps folder read into plain data, with policy XML still
 * as text (the policy language reads it). Nothing here has semantics beyond the artifact files.
 */

/** A policy document's text and where it came from (path relative to the config root, '/'-separated). */
export interface PolicySource {
  readonly file: string;
  readonly text: string;
}

export interface LoadedOperation {
  /** operationId from the specification: APIM's operation name and the folder name under operations/. */
  readonly name: string;
  readonly displayName: string;
  /** Upper-case HTTP method. */
  readonly method: string;
  /** APIM URL template: '/users/{id}', possibly with a query part '/search?q={q}'. */
  readonly urlTemplate: string;
  readonly policy: PolicySource | null;
  /** Response examples from the spec for mock-response: status → content type → example text. */
  readonly responses: readonly LoadedResponse[];
}

export interface LoadedResponse {
  readonly status: number;
  readonly contentType: string | null;
  /** Example body serialised as text (JSON stringified), or null when the spec has none. */
  readonly example: string | null;
}

export interface SubscriptionKeyParameterNames {
  readonly header: string;
  readonly query: string;
}

export interface LoadedApi {
  /** Folder name without ';rev=N' (the APIM API name). */
  readonly name: string;
  readonly displayName: string;
  /** URL suffix, no leading or trailing '/'; '' for the catch-all API. */
  readonly path: string;
  /** Backend base URL; null when the API has none (then set-backend-service must provide one). */
  readonly serviceUrl: string | null;
  readonly protocols: readonly string[];
  readonly subscriptionRequired: boolean;
  readonly subscriptionKeyParameterNames: SubscriptionKeyParameterNames;
  readonly apiVersion: string | null;
  /** Version set id (last path segment of apiVersionSetId), or null. */
  readonly versionSetId: string | null;
  readonly revision: string;
  readonly isCurrent: boolean;
  readonly type: string;
  readonly operations: readonly LoadedOperation[];
  readonly policy: PolicySource | null;
  /** Folder of this API relative to the root, e.g. 'apis/echo;rev=2'. */
  readonly folder: string;
}

export interface LoadedProduct {
  readonly name: string;
  readonly displayName: string;
  readonly subscriptionRequired: boolean;
  /** 'published' | 'notPublished' */
  readonly state: string;
  /** API names (without ;rev=) linked to the product. */
  readonly apis: readonly string[];
  readonly policy: PolicySource | null;
}

export interface LoadedNamedValue {
  /** Resource name (folder). */
  readonly name: string;
  /** What `{{…}}` references: APIM keys named values by display name. */
  readonly displayName: string;
  /** null for Key Vault values without an overlay value. */
  readonly value: string | null;
  readonly secret: boolean;
}

export interface LoadedFragment {
  readonly id: string;
  readonly policy: PolicySource;
}

export type VersioningScheme = 'Segment' | 'Query' | 'Header';

export interface LoadedVersionSet {
  readonly id: string;
  readonly displayName: string;
  readonly scheme: VersioningScheme;
  readonly headerName: string | null;
  readonly queryName: string | null;
}

export interface LoadedBackend {
  readonly id: string;
  readonly url: string;
}

export interface LoadedSubscription {
  readonly name: string;
  /** 'all' for '/apis' (all APIs); product or api name otherwise. */
  readonly scope: { readonly kind: 'product' | 'api' | 'all'; readonly name: string | null };
  /** 'active' | 'suspended' | 'submitted' | 'rejected' | 'cancelled' | 'expired' */
  readonly state: string;
  readonly primaryKey: string | null;
  readonly secondaryKey: string | null;
  readonly file: string;
}

/** gatehouse's own overlay (gatehouse.yaml in the folder, or --overlay FILE): what APIOps does not carry. */
export interface Overlay {
  readonly file: string | null;
  readonly listen: { readonly host: string; readonly port: number };
  readonly compat: CompatSettings;
  /** Values for named values (by display name), overriding or filling Key Vault ones. */
  readonly namedValues: Readonly<Record<string, string>>;
  /** Keys per subscription name. */
  readonly subscriptionKeys: Readonly<Record<string, { readonly primaryKey?: string; readonly secondaryKey?: string }>>;
  /** Backend URL per backend id, and serviceUrl per API name: point the folder at local services. */
  readonly backendUrls: Readonly<Record<string, string>>;
  readonly serviceUrls: Readonly<Record<string, string>>;
  readonly limits: {
    readonly maxHeaderBytes: number;
    readonly maxBodyBytes: number;
    /** Default backend timeout when forward-request has none (APIM: 300 s). */
    readonly backendTimeoutMs: number;
  };
  /** gatehouse extension: proxies whose X-Forwarded-For is believed (for ip-filter). Empty = APIM. */
  readonly trustedProxies: readonly string[];
}

export interface LoadedConfig {
  /** Absolute path of the folder. */
  readonly root: string;
  /** 'v7' | 'v6' | 'v5' – detected from which files exist. */
  readonly layout: string;
  readonly globalPolicy: PolicySource | null;
  readonly apis: readonly LoadedApi[];
  readonly products: readonly LoadedProduct[];
  readonly namedValues: readonly LoadedNamedValue[];
  readonly fragments: readonly LoadedFragment[];
  readonly versionSets: readonly LoadedVersionSet[];
  readonly backends: readonly LoadedBackend[];
  readonly subscriptions: readonly LoadedSubscription[];
  readonly overlay: Overlay;
}
