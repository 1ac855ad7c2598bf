import type { ReactNode } from "react";
import DashboardIcon from "@mui/icons-material/Dashboard";
import UploadIcon from "@mui/icons-material/CloudUpload";
import VerifiedIcon from "@mui/icons-material/VerifiedUser";
import PersonOffIcon from "@mui/icons-material/PersonOff";
import InsightsIcon from "@mui/icons-material/Insights";
import { AppBar, Layout, LocalesMenuButton, Menu, TitlePortal, ToggleThemeButton, usePermissions } from "react-admin";
import type { Role } from "./api";
import { can } from "./permissions";

function AppMenu() {
  const { permissions } = usePermissions<Role>();
  return (
    <Menu>
      <Menu.Item to="/" primaryText="datoferum.menu.dashboard" leftIcon={<DashboardIcon />} />
      <Menu.ResourceItem name="files" />
      {can(permissions, "data:write") && (
        <Menu.Item to="/upload" primaryText="datoferum.menu.upload" leftIcon={<UploadIcon />} />
      )}
      {can(permissions, "lifecycle:read") && <Menu.ResourceItem name="holds" />}
      {can(permissions, "jobs:read") && <Menu.ResourceItem name="jobs" />}
      {can(permissions, "events:read") && <Menu.ResourceItem name="events" />}
      {can(permissions, "audit:verify") && (
        <Menu.Item to="/audit" primaryText="datoferum.menu.audit" leftIcon={<VerifiedIcon />} />
      )}
      {can(permissions, "lifecycle:read") && <Menu.ResourceItem name="policies" />}
      {can(permissions, "webhooks:manage") && <Menu.ResourceItem name="webhooks" />}
      {can(permissions, "lifecycle:manage") && (
        <Menu.Item to="/erasure" primaryText="datoferum.menu.erasure" leftIcon={<PersonOffIcon />} />
      )}
      <Menu.Item to="/insights" primaryText="datoferum.menu.insights" leftIcon={<InsightsIcon />} />
    </Menu>
  );
}

function Bar() {
  return (
    <AppBar
      toolbar={
        <>
          <LocalesMenuButton />
          <ToggleThemeButton />
        </>
      }
    >
      <TitlePortal />
    </AppBar>
  );
}

export function AppLayout({ children }: { children: ReactNode }) {
  return (
    <Layout menu={AppMenu} appBar={Bar}>
      {children}
    </Layout>
  );
}
