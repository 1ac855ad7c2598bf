import type { ReactNode } from "react";
import DashboardIcon from "@mui/icons-material/Dashboard";
import UploadIcon from "@mui/icons-material/CloudUpload";
import VerifiedIcon from "@mui/icons-material/VerifiedUser";
import PersonOffIcon from "@mui/icons-material/PersonOff";
import InsightsIcon from "@mui/icons-material/Insights";
import { MenuItem, ListItemText } from "@mui/material";
import {
  AppBar, Layout, LocalesMenuButton, Logout, Menu, TitlePortal, ToggleThemeButton, UserMenu,
  usePermissions,
} from "react-admin";
import { session } from "./api";
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
      {(can(permissions, "lifecycle:read") || can(permissions, "links:manage")) && <Menu.ResourceItem name="links" />}
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

function Who() {
  const identity = session.identity();
  if (!identity) return null;
  return (
    <MenuItem disabled>
      <ListItemText primary={identity.name} secondary={identity.role} />
    </MenuItem>
  );
}

function Bar() {
  return (
    <AppBar
      userMenu={
        <UserMenu>
          <Who />
          <Logout />
        </UserMenu>
      }
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
