import { lazy, Suspense } from "react";
import { Admin, CustomRoutes, Resource } from "react-admin";
import { darkTheme, lightTheme } from "./theme";
import { Route } from "react-router-dom";
import DescriptionIcon from "@mui/icons-material/Description";
import GavelIcon from "@mui/icons-material/Gavel";
import WorkIcon from "@mui/icons-material/Work";
import ListAltIcon from "@mui/icons-material/ListAlt";
import PolicyIcon from "@mui/icons-material/Policy";
import WebhookIcon from "@mui/icons-material/Webhook";
import LinkIcon from "@mui/icons-material/Link";
import { authProvider } from "./authProvider";
import { dataProvider } from "./dataProvider";
import { i18nProvider } from "./i18n";
import { AppLayout } from "./layout";
import { LoginPage } from "./login";
import { can } from "./permissions";
import type { Role } from "./api";
import { FileList, FileShow } from "./resources/files";
import { UploadPage } from "./resources/upload";
import { HoldCreate, HoldList } from "./resources/holds";
import { LinkList } from "./resources/links";
import { JobList } from "./resources/jobs";
import { EventList } from "./resources/events";
import { PolicyCreate, PolicyList, PolicyShow } from "./resources/policies";
import { WebhookCreate, WebhookList } from "./resources/webhooks";
import { AuditPage } from "./resources/audit";
import { ErasurePage } from "./resources/erasure";
import { InsightsPage } from "./resources/insights";

// The dashboard carries the charting library (the largest dependency): it loads on its own.
const Dashboard = lazy(() => import("./dashboard"));

function DashboardPage() {
  return (
    <Suspense fallback={null}>
      <Dashboard />
    </Suspense>
  );
}

export function App() {
  return (
    <Admin
      title="Datoferum"
      dataProvider={dataProvider}
      authProvider={authProvider}
      i18nProvider={i18nProvider}
      loginPage={LoginPage}
      layout={AppLayout}
      dashboard={DashboardPage}
      theme={lightTheme}
      darkTheme={darkTheme}
      requireAuth
      disableTelemetry
    >
      {(role: Role | undefined) => (
        <>
          <Resource name="files" list={FileList} show={FileShow} icon={DescriptionIcon} />
          {can(role, "lifecycle:read") && (
            <Resource name="holds" icon={GavelIcon} list={HoldList} create={can(role, "lifecycle:manage") ? HoldCreate : undefined} />
          )}
          {(can(role, "lifecycle:read") || can(role, "links:manage")) && (
            <Resource name="links" icon={LinkIcon} list={LinkList} />
          )}
          {can(role, "jobs:read") && <Resource name="jobs" icon={WorkIcon} list={JobList} />}
          {can(role, "events:read") && <Resource name="events" icon={ListAltIcon} list={EventList} />}
          {can(role, "lifecycle:read") && (
            <Resource
              name="policies"
              icon={PolicyIcon}
              list={PolicyList}
              show={PolicyShow}
              create={can(role, "lifecycle:manage") ? PolicyCreate : undefined}
            />
          )}
          {can(role, "webhooks:manage") && <Resource name="webhooks" icon={WebhookIcon} list={WebhookList} create={WebhookCreate} />}
          <CustomRoutes>
            <Route path="/upload" element={<UploadPage />} />
            <Route path="/audit" element={<AuditPage />} />
            <Route path="/erasure" element={<ErasurePage />} />
            <Route path="/insights" element={<InsightsPage />} />
          </CustomRoutes>
        </>
      )}
    </Admin>
  );
}
